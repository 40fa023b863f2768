/*
 * bench_http.c - a minimal HTTP/1.1 client for the benchmarks.
 *
 * One blocking socket, one request in flight. A request is formatted into one
 * buffer and sent with as few write calls as the kernel allows; the response is
 * read into a growing buffer until its headers and Content-Length bytes of body
 * are in. That is all the registry's non-streaming answers need, and it keeps
 * the client's CPU per request far below the server's.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fp_alloc.h"

static int do_connect(bench_http *h)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int one = 1;

    if (inet_pton(AF_INET, h->host, &sa.sin_addr) != 1) {
        fprintf(stderr, "bench: %s is not an IPv4 address\n", h->host);
        return -1;
    }
    sa.sin_port = htons((uint16_t)h->port);
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0) {
        fprintf(stderr, "bench: socket: %s\n", strerror(errno));
        return -1;
    }
    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(h->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(h->fd);
        h->fd = -1;
        return -1;
    }
    h->n_connects++;
    h->in_len = 0;
    return 0;
}

int bench_http_open(bench_http *h, const char *url)
{
    const char *p;
    size_t host_len;

    memset(h, 0, sizeof *h);
    h->fd = -1;
    fp_buf_init(&h->out, 64u << 20);
    if (strncmp(url, "http://", 7) != 0 || !(p = strrchr(url + 7, ':'))) {
        fprintf(stderr, "bench: expected a URL http://HOST:PORT, got %s\n", url);
        return -1;
    }
    host_len = (size_t)(p - (url + 7));
    if (host_len == 0 || host_len >= sizeof h->host) {
        fprintf(stderr, "bench: bad host in %s\n", url);
        return -1;
    }
    memcpy(h->host, url + 7, host_len);
    h->host[host_len] = '\0';
    h->port = atoi(p + 1);
    if (do_connect(h)) {
        fprintf(stderr, "bench: cannot connect to %s: %s\n", url, strerror(errno));
        return -1;
    }
    return 0;
}

void bench_http_close(bench_http *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    fp_buf_clear(&h->out);
    fp_free(h->in);
    h->in = NULL;
    h->in_len = h->in_cap = 0;
}

static int send_all(bench_http *h)
{
    size_t off = 0;

    while (off < h->out.len) {
        ssize_t n = send(h->fd, h->out.data + off, h->out.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

/* Read more bytes into h->in; returns bytes read, 0 on EOF, -1 on error. */
static ssize_t read_more(bench_http *h)
{
    ssize_t n;

    if (h->in_cap - h->in_len < 65536) {
        size_t cap = h->in_cap ? h->in_cap * 2 : 262144;
        char *in = fp_realloc(h->in, cap);
        if (!in)
            return -1;
        h->in = in;
        h->in_cap = cap;
    }
    do
        n = recv(h->fd, h->in + h->in_len, h->in_cap - h->in_len - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        h->in_len += (size_t)n;
    return n;
}

/* Find the value of header `name` in the header block [p, end), or NULL. */
static const char *find_header(const char *p, const char *end, const char *name)
{
    size_t name_len = strlen(name);

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > name_len && strncasecmp(p, name, name_len) == 0 &&
            p[name_len] == ':') {
            p += name_len + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            return p;
        }
        p = eol + 1;
    }
    return NULL;
}

/* Read one response; the previous one was consumed entirely, so h->in starts
 * with this one (no pipelining). Returns 0, or -1 on EOF before the first byte
 * (the server closed an idle connection) or -2 on any other failure. */
static int read_response(bench_http *h)
{
    const char *hdr_end = NULL, *first, *cl, *conn;
    size_t head_len, want;

    h->in_len = 0;
    for (;;) {
        if (h->in_len >= 4) {
            h->in[h->in_len] = '\0';
            hdr_end = strstr(h->in, "\r\n\r\n");
            if (hdr_end)
                break;
        }
        ssize_t n = read_more(h);
        if (n <= 0)
            return h->in_len == 0 && n == 0 ? -1 : -2;
    }
    head_len = (size_t)(hdr_end - h->in) + 4;
    if (h->in_len < 12 || strncmp(h->in, "HTTP/1.", 7) != 0)
        return -2;
    h->status = atoi(h->in + 9);
    first = strchr(h->in, '\n') + 1;
    cl = find_header(first, hdr_end + 2, "Content-Length");
    if (cl) {
        want = (size_t)strtoull(cl, NULL, 10);
    } else if (h->status == 204 || h->status == 304) {
        want = 0;
    } else {
        fprintf(stderr, "bench: response without Content-Length (status %d)\n", h->status);
        return -2;
    }
    while (h->in_len < head_len + want)
        if (read_more(h) <= 0)
            return -2;
    h->body = h->in + head_len;
    h->body_len = want;
    h->in[head_len + want] = '\0';
    conn = find_header(first, hdr_end + 2, "Connection");
    if (conn && strncasecmp(conn, "close", 5) == 0) {
        close(h->fd);
        h->fd = -1;
    }
    return 0;
}

int bench_http_request(bench_http *h, const char *method, const char *path, const char *token,
                       const char *body, size_t body_len)
{
    fp_buf_reset(&h->out);
    fp_buf_printf(&h->out, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n", method, path, h->host, h->port);
    if (token)
        fp_buf_printf(&h->out, "Authorization: Bearer %s\r\n", token);
    if (body)
        fp_buf_printf(&h->out, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                      body_len);
    fp_buf_append_str(&h->out, "\r\n");
    if (body)
        fp_buf_append(&h->out, body, body_len);
    if (h->out.err) {
        fprintf(stderr, "bench: request too large\n");
        return -1;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (h->fd < 0 && do_connect(h)) {
            fprintf(stderr, "bench: cannot reconnect: %s\n", strerror(errno));
            return -1;
        }
        if (send_all(h) == 0 && read_response(h) == 0)
            return h->status;
        else if (attempt == 0 && h->fd >= 0) {
            /* The server may have closed an idle keep-alive connection: retry once. */
            close(h->fd);
            h->fd = -1;
            continue;
        }
        break;
    }
    fprintf(stderr, "bench: %s %s: connection failed\n", method, path);
    return -1;
}
