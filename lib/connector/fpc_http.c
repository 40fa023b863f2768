/*
 * fpc_http.c - the connector SDK's small HTTP/1.1 client.
 *
 * The registry client used libcurl; linking it cost a connector ~4 MB of resident
 * libraries (gnutls, krb5, ldap, ssh2 ...) and curl_global_init initialised OpenSSL even
 * for a plain http registry (~2 MB more). The registry speaks a narrow dialect of HTTP -
 * JSON requests, Content-Length or chunked answers, one long ndjson stream - so a client
 * of our own is small: this file.
 *
 * Shape: the response parser is a state machine over bytes with no I/O, so it can be
 * fuzzed and tested alone. The client opens a non-blocking socket and waits in poll(2)
 * for every step, which gives all timeouts (connect, whole request, silence on a stream)
 * and the stop flag of the watch one place to be checked. One idle connection is kept
 * per client: a request takes it (or connects), and gives it back when the answer was
 * complete and the server did not ask to close. A server may close an idle connection
 * at any time, so a request that fails on a reused connection before any byte of an
 * answer arrived is sent once more on a new connection. TLS is only touched for https
 * URLs: the SSL_CTX is made on the first https connect, never for http.
 */
#include "fpc_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_time.h"

#define FPC_HTTP_CONNECT_TIMEOUT_MS 5000
#define FPC_HTTP_STOP_POLL_MS 100
#define FPC_HTTP_READ_CHUNK 16384

/* ---------------------------------------------------------------------------
 * Response parser
 * ------------------------------------------------------------------------- */

enum {
    S_STATUS,     /* the status line */
    S_HEADER,     /* header lines up to the empty line */
    S_BODY_LEN,   /* Content-Length body */
    S_BODY_CLOSE, /* body delimited by the end of the connection */
    S_CHUNK_SIZE, /* a chunk-size line */
    S_CHUNK_DATA, /* chunk data */
    S_CHUNK_END,  /* the CRLF after chunk data */
    S_TRAILER,    /* trailer lines after the last chunk */
    S_DONE,
    S_ERROR,
};

void fpc_http_parser_init(fpc_http_parser *p, bool head, fpc_http_body_fn on_body, void *arg)
{
    memset(p, 0, sizeof *p);
    p->state = S_STATUS;
    p->no_body = head;
    p->on_body = on_body;
    p->arg = arg;
}

bool fpc_http_parser_done(const fpc_http_parser *p)
{
    return p->state == S_DONE;
}

bool fpc_http_parser_started(const fpc_http_parser *p)
{
    return p->state != S_STATUS || p->line_len > 0 || p->header_bytes > 0;
}

/* Copy of at most 60 bytes of s with anything unprintable shown as '?', for messages
 * that quote what the server sent. */
static const char *quote(const char *s, size_t n, char out[64])
{
    size_t i;

    if (n > 60)
        n = 60;
    for (i = 0; i < n; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[i] = '\0';
    return out;
}

static fp_status fail(fpc_http_parser *p, fp_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static fp_status fail(fpc_http_parser *p, fp_status st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    p->state = S_ERROR;
    return st;
}

static const char *line_kind(int state)
{
    switch (state) {
    case S_STATUS:
        return "status line";
    case S_HEADER:
        return "header line";
    case S_CHUNK_SIZE:
        return "chunk size line";
    case S_CHUNK_END:
        return "chunk end";
    default:
        return "trailer line";
    }
}

/* Does the comma-separated token list v hold token t (case-insensitive)? */
static bool has_token(const char *v, const char *t)
{
    size_t tn = strlen(t);

    while (*v) {
        size_t n;
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        n = strcspn(v, ",");
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (n == tn && strncasecmp(v, t, n) == 0)
            return true;
        v += strcspn(v, ",");
    }
    return false;
}

/* Is the last token of the list "chunked"? (RFC 9112 6.3: only then is the body chunked.) */
static bool last_token_chunked(const char *v)
{
    const char *last = strrchr(v, ',');
    size_t n;

    last = last ? last + 1 : v;
    while (*last == ' ' || *last == '\t')
        last++;
    n = strlen(last);
    while (n > 0 && (last[n - 1] == ' ' || last[n - 1] == '\t'))
        n--;
    return n == 7 && strncasecmp(last, "chunked", 7) == 0;
}

static fp_status parse_status_line(fpc_http_parser *p, const char *s, size_t n)
{
    char q[64];

    /* "HTTP/1.x SSS[ reason]" */
    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
        s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' ||
        (n > 12 && s[12] != ' '))
        return fail(p, FP_ERR_INVALID, "no HTTP/1.x status line in the response (got '%s')",
                    quote(s, n, q));
    p->http10 = s[7] == '0';
    p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    p->state = S_HEADER;
    return FP_OK;
}

static fp_status parse_header_line(fpc_http_parser *p, char *s, size_t n)
{
    char q[64];
    char *colon, *v;
    size_t name_len;

    if (s[0] == ' ' || s[0] == '\t')
        return FP_OK; /* obsolete line folding: continues a header we do not read */
    colon = memchr(s, ':', n);
    if (!colon || colon == s)
        return fail(p, FP_ERR_INVALID, "response header line without a name and ':' ('%s')",
                    quote(s, n, q));
    name_len = (size_t)(colon - s);
    for (size_t i = 0; i < name_len; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return fail(p, FP_ERR_INVALID, "response header name with a bad character ('%s')",
                        quote(s, n, q));
    if (p->state == S_TRAILER)
        return FP_OK; /* trailers cannot change the framing */
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    {
        size_t vn = strlen(v);
        while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
            v[--vn] = '\0';
    }
    if (name_len == 14 && strncasecmp(s, "Content-Length", 14) == 0) {
        uint64_t len = 0;
        const char *d = v;
        if (!*d)
            return fail(p, FP_ERR_INVALID, "empty Content-Length in the response");
        for (; *d; d++) {
            if (*d < '0' || *d > '9' || len > (UINT64_MAX - 9) / 10)
                return fail(p, FP_ERR_INVALID, "Content-Length '%s' is not a number",
                            quote(v, strlen(v), q));
            len = len * 10 + (uint64_t)(*d - '0');
        }
        if (p->has_length && len != p->length)
            return fail(p, FP_ERR_INVALID,
                        "two different Content-Length headers in the response (%" PRIu64
                        " and %" PRIu64 ")",
                        p->length, len);
        p->has_length = true;
        p->length = len;
    } else if (name_len == 17 && strncasecmp(s, "Transfer-Encoding", 17) == 0) {
        /* Anything but a final "chunked" means the body runs until the close. */
        if (last_token_chunked(v))
            p->chunked = true;
        else
            p->close = true;
    } else if (name_len == 10 && strncasecmp(s, "Connection", 10) == 0) {
        if (has_token(v, "close"))
            p->close = true;
        if (has_token(v, "keep-alive"))
            p->keep_alive_10 = true;
    }
    return FP_OK;
}

/* The empty line after the header section: decide how the body is framed. */
static fp_status end_of_header(fpc_http_parser *p)
{
    if (p->status >= 100 && p->status < 200 && p->status != 101) {
        /* An interim answer (100 Continue ...): the real one follows. */
        bool head = p->no_body;
        p->state = S_STATUS;
        p->no_body = head;
        p->chunked = p->has_length = p->close = p->keep_alive_10 = false;
        p->length = 0;
        return FP_OK;
    }
    if (p->http10 && !p->keep_alive_10)
        p->close = true;
    if (p->no_body || p->status == 204 || p->status == 304 || p->status == 101) {
        p->state = S_DONE;
        if (p->status == 101)
            p->close = true; /* we never ask for an upgrade: do not reuse */
    } else if (p->chunked) {
        p->state = S_CHUNK_SIZE;
    } else if (p->close && !p->has_length) {
        p->state = S_BODY_CLOSE;
    } else if (p->has_length) {
        p->remaining = p->length;
        p->state = p->length ? S_BODY_LEN : S_DONE;
    } else {
        p->close = true;
        p->state = S_BODY_CLOSE;
    }
    return FP_OK;
}

static fp_status parse_chunk_size(fpc_http_parser *p, const char *s, size_t n)
{
    char q[64];
    uint64_t size = 0;
    size_t i = 0;

    for (; i < n; i++) {
        int d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        if (i >= 15)
            return fail(p, FP_ERR_TOO_LARGE, "chunk size '%s' has more than 15 hex digits",
                        quote(s, n, q));
        size = size * 16 + (uint64_t)d;
    }
    if (i == 0)
        return fail(p, FP_ERR_INVALID, "bad chunk size line '%s' (no hex digits)", quote(s, n, q));
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] != ';')
        return fail(p, FP_ERR_INVALID, "bad chunk size line '%s'", quote(s, n, q));
    /* Chunk extensions (";name=value") carry nothing we use. */
    if (size == 0) {
        p->header_bytes = 0;
        p->state = S_TRAILER;
    } else {
        p->remaining = size;
        p->state = S_CHUNK_DATA;
    }
    return FP_OK;
}

/* One complete line in p->line (CR/LF removed). */
static fp_status parse_line(fpc_http_parser *p)
{
    char *s = p->line;
    size_t n = p->line_len;

    switch (p->state) {
    case S_STATUS:
        if (n == 0 && p->header_bytes <= 2)
            return FP_OK; /* tolerate one empty line before the status line (RFC 9112 2.2) */
        return parse_status_line(p, s, n);
    case S_HEADER:
        return n == 0 ? end_of_header(p) : parse_header_line(p, s, n);
    case S_CHUNK_SIZE:
        return parse_chunk_size(p, s, n);
    case S_CHUNK_END:
        if (n != 0) {
            char q[64];
            return fail(p, FP_ERR_INVALID, "chunk data longer than its size (got '%s' after it)",
                        quote(s, n, q));
        }
        p->state = S_CHUNK_SIZE;
        return FP_OK;
    case S_TRAILER:
        if (n == 0) {
            p->state = S_DONE;
            return FP_OK;
        }
        return parse_header_line(p, s, n);
    default:
        return fail(p, FP_ERR_INTERNAL, "response parser in a bad state");
    }
}

static fp_status deliver(fpc_http_parser *p, const char *s, size_t n)
{
    fp_status st;

    if (n == 0)
        return FP_OK;
    p->body_len += n;
    if (!p->on_body)
        return FP_OK;
    st = p->on_body(p->status, s, n, p->arg);
    p->refused = st != FP_OK;
    if (st)
        return fail(p, st, "the response body was refused after %" PRIu64 " bytes", p->body_len);
    return FP_OK;
}

fp_status fpc_http_parser_feed(fpc_http_parser *p, const char *buf, size_t n, size_t *used)
{
    size_t off = 0;
    fp_status st = FP_OK;

    while (off < n && st == FP_OK) {
        switch (p->state) {
        case S_STATUS:
        case S_HEADER:
        case S_CHUNK_SIZE:
        case S_CHUNK_END:
        case S_TRAILER: {
            const char *nl = memchr(buf + off, '\n', n - off);
            size_t take = nl ? (size_t)(nl - (buf + off)) : n - off;
            bool in_header = p->state != S_CHUNK_SIZE && p->state != S_CHUNK_END;

            if (p->line_len + take > FPC_HTTP_MAX_LINE)
                return fail(p, FP_ERR_TOO_LARGE, "response %s longer than %d bytes",
                            line_kind(p->state), FPC_HTTP_MAX_LINE);
            if (in_header && p->header_bytes + take + 1 > FPC_HTTP_MAX_HEADER)
                return fail(p, FP_ERR_TOO_LARGE, "response %s longer than %u bytes",
                            p->state == S_TRAILER ? "trailer section" : "header section",
                            FPC_HTTP_MAX_HEADER);
            memcpy(p->line + p->line_len, buf + off, take);
            p->line_len += take;
            p->header_bytes += take;
            off += take;
            if (!nl)
                break;
            off++; /* the '\n' */
            p->header_bytes++;
            if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
                p->line_len--;
            if (memchr(p->line, '\0', p->line_len))
                return fail(p, FP_ERR_INVALID, "response %s holds a NUL byte", line_kind(p->state));
            p->line[p->line_len] = '\0';
            st = parse_line(p);
            p->line_len = 0;
            break;
        }
        case S_BODY_LEN:
        case S_CHUNK_DATA: {
            size_t take = n - off;
            if ((uint64_t)take > p->remaining)
                take = (size_t)p->remaining;
            st = deliver(p, buf + off, take);
            off += take;
            p->remaining -= take;
            if (p->remaining == 0)
                p->state = p->state == S_BODY_LEN ? S_DONE : S_CHUNK_END;
            break;
        }
        case S_BODY_CLOSE:
            st = deliver(p, buf + off, n - off);
            off = n;
            break;
        case S_DONE:
            goto out;
        default:
            return p->err[0] ? FP_ERR_INVALID
                             : fail(p, FP_ERR_INVALID, "response parser used after an error");
        }
    }
out:
    if (used)
        *used = off;
    return st;
}

fp_status fpc_http_parser_eof(fpc_http_parser *p)
{
    switch (p->state) {
    case S_DONE:
        return FP_OK;
    case S_BODY_CLOSE:
        p->state = S_DONE;
        return FP_OK;
    case S_STATUS:
        if (!fpc_http_parser_started(p))
            return fail(p, FP_ERR_UNAVAILABLE,
                        "the server closed the connection without an answer");
        /* fallthrough */
    case S_HEADER:
        return fail(p, FP_ERR_UNAVAILABLE, "the connection ended inside the response header");
    case S_BODY_LEN:
        return fail(p, FP_ERR_UNAVAILABLE,
                    "the connection ended after %" PRIu64 " of %" PRIu64 " body bytes (truncated)",
                    p->body_len, p->length);
    case S_CHUNK_SIZE:
    case S_CHUNK_DATA:
    case S_CHUNK_END:
    case S_TRAILER:
        return fail(p, FP_ERR_UNAVAILABLE,
                    "the connection ended inside the chunked body after %" PRIu64
                    " bytes (truncated)",
                    p->body_len);
    default:
        return FP_ERR_INVALID;
    }
}

/* ---------------------------------------------------------------------------
 * Client
 * ------------------------------------------------------------------------- */

typedef struct fpc_conn {
    int fd;
    SSL *ssl; /* https only */
} fpc_conn;

struct fpc_http {
    bool tls;
    char *host;     /* without brackets; what we resolve and verify */
    char port[8];   /* decimal */
    char *hostport; /* the Host header */
    char *prefix;   /* path of the base URL without a trailing '/', may be "" */
    char *cafile;   /* or NULL */
    char *url;      /* scheme://hostport, for messages */
    pthread_mutex_t mu;
    fpc_conn *idle; /* the kept connection, or NULL */
    SSL_CTX *ctx;   /* made on the first https connect */
};

fpc_http *fpc_http_new(const char *base_url, const char *cafile, char *err, size_t err_len)
{
    fpc_http *h;
    const char *s, *auth_end, *host_end, *host;
    size_t host_len, prefix_len;
    long port;
    bool v6 = false;

    if (!base_url) {
        fp_set_err(err, err_len, "no registry URL");
        return NULL;
    }
    h = fp_calloc(1, sizeof *h);
    if (!h)
        goto nomem;
    pthread_mutex_init(&h->mu, NULL);
    if (strncasecmp(base_url, "http://", 7) == 0) {
        s = base_url + 7;
    } else if (strncasecmp(base_url, "https://", 8) == 0) {
        h->tls = true;
        s = base_url + 8;
    } else {
        fp_set_err(err, err_len, "registry URL '%.200s' is not http:// or https://", base_url);
        goto fail;
    }
    auth_end = s + strcspn(s, "/?#");
    if (memchr(s, '@', (size_t)(auth_end - s))) {
        fp_set_err(err, err_len, "registry URL '%.200s': user info in the URL is not supported",
                   base_url);
        goto fail;
    }
    if (*s == '[') {
        v6 = true;
        host = s + 1;
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        if (!host_end) {
            fp_set_err(err, err_len, "registry URL '%.200s': no ']' after the IPv6 address",
                       base_url);
            goto fail;
        }
        s = host_end + 1;
    } else {
        host = s;
        host_end = s + strcspn(s, ":/?#");
        s = host_end;
    }
    host_len = (size_t)(host_end - host);
    if (host_len == 0 || host_len > 253) {
        fp_set_err(err, err_len, "registry URL '%.200s': no host name", base_url);
        goto fail;
    }
    port = h->tls ? 443 : 80;
    if (*s == ':') {
        char *end = NULL;
        errno = 0;
        port = strtol(s + 1, &end, 10);
        if (end == s + 1 || end != auth_end || errno || port < 1 || port > 65535) {
            fp_set_err(err, err_len, "registry URL '%.200s': bad port", base_url);
            goto fail;
        }
        s = end;
    } else if (s != auth_end) {
        fp_set_err(err, err_len, "registry URL '%.200s': junk after the host", base_url);
        goto fail;
    }
    if (*auth_end == '?' || *auth_end == '#') {
        fp_set_err(err, err_len, "registry URL '%.200s' must not have a query or fragment",
                   base_url);
        goto fail;
    }
    prefix_len = strcspn(auth_end, "?#");
    while (prefix_len > 0 && auth_end[prefix_len - 1] == '/')
        prefix_len--;
    for (size_t i = 0; i < prefix_len; i++)
        if ((unsigned char)auth_end[i] <= 0x20 || auth_end[i] == 0x7f) {
            fp_set_err(err, err_len, "registry URL '%.200s': a space or control in the path",
                       base_url);
            goto fail;
        }
    snprintf(h->port, sizeof h->port, "%ld", port);
    h->host = fp_strndup(host, host_len);
    h->prefix = fp_strndup(auth_end, prefix_len);
    {
        fp_buf b;
        bool dflt = port == (h->tls ? 443 : 80);
        fp_buf_init(&b, 1024);
        fp_buf_printf(&b, "%s%.*s%s%s%s", v6 ? "[" : "", (int)host_len, host, v6 ? "]" : "",
                      dflt ? "" : ":", dflt ? "" : h->port);
        h->hostport = fp_buf_take(&b, NULL);
        fp_buf_init(&b, 1100);
        fp_buf_printf(&b, "%s://%s", h->tls ? "https" : "http", h->hostport ? h->hostport : "");
        h->url = fp_buf_take(&b, NULL);
    }
    if (cafile && *cafile)
        h->cafile = fp_strdup(cafile);
    if (!h->host || !h->prefix || !h->hostport || !h->url || (cafile && *cafile && !h->cafile))
        goto nomem;
    return h;
nomem:
    fp_set_err(err, err_len, "out of memory");
fail:
    fpc_http_free(h);
    return NULL;
}

static void conn_close(fpc_conn *c)
{
    if (!c)
        return;
    if (c->ssl)
        SSL_free(c->ssl); /* no close_notify: the registry does not need one */
    if (c->fd >= 0)
        close(c->fd);
    fp_free(c);
}

void fpc_http_free(fpc_http *h)
{
    if (!h)
        return;
    conn_close(h->idle);
    if (h->ctx)
        SSL_CTX_free(h->ctx);
    pthread_mutex_destroy(&h->mu);
    fp_free(h->host);
    fp_free(h->hostport);
    fp_free(h->prefix);
    fp_free(h->cafile);
    fp_free(h->url);
    fp_free(h);
}

/* ---------------------------------------------------------------------------
 * Waiting
 * ------------------------------------------------------------------------- */

/* The clocks of one request. */
typedef struct xfer {
    int64_t deadline;   /* whole request, 0 = none */
    int64_t connect_by; /* during connect, 0 = none */
    int64_t last_rx;    /* for the idle timeout */
    int idle_ms;        /* 0 = none */
    int total_ms;
    atomic_int *stop;
} xfer;

enum { W_READY = 0, W_STOPPED, W_TIMEOUT, W_IDLE, W_CONNECT_TIMEOUT, W_ERROR };

/* Wait until fd is readable (want_write false) or writable. */
static int wait_fd(int fd, bool want_write, xfer *x)
{
    for (;;) {
        int64_t now = fp_mono_ms(), t = -1;
        struct pollfd pfd = {.fd = fd, .events = want_write ? POLLOUT : POLLIN};
        int rc;

        if (x->stop && atomic_load(x->stop))
            return W_STOPPED;
        if (x->deadline) {
            if (now >= x->deadline)
                return W_TIMEOUT;
            t = x->deadline - now;
        }
        if (x->connect_by) {
            if (now >= x->connect_by)
                return W_CONNECT_TIMEOUT;
            if (t < 0 || x->connect_by - now < t)
                t = x->connect_by - now;
        }
        if (x->idle_ms && !x->connect_by) {
            int64_t idle_end = x->last_rx + x->idle_ms;
            if (now >= idle_end)
                return W_IDLE;
            if (t < 0 || idle_end - now < t)
                t = idle_end - now;
        }
        if (x->stop && (t < 0 || t > FPC_HTTP_STOP_POLL_MS))
            t = FPC_HTTP_STOP_POLL_MS;
        rc = poll(&pfd, 1, t < 0 ? -1 : (int)t);
        if (rc < 0 && errno != EINTR)
            return W_ERROR;
        if (rc > 0)
            return W_READY; /* readable, writable, or an error the next call reports */
    }
}

/* Message for a wait that did not end in W_READY. */
static void wait_err(int w, const xfer *x, const char *what, char *err, size_t err_len)
{
    switch (w) {
    case W_TIMEOUT:
        fp_set_err(err, err_len, "timed out after %d ms %s", x->total_ms, what);
        break;
    case W_IDLE:
        fp_set_err(err, err_len, "nothing received for %d ms %s", x->idle_ms, what);
        break;
    case W_CONNECT_TIMEOUT:
        fp_set_err(err, err_len, "connect timed out");
        break;
    case W_STOPPED:
        fp_set_err(err, err_len, "stopped");
        break;
    default:
        fp_set_err(err, err_len, "poll: %s %s", strerror(errno), what);
        break;
    }
}

/* ---------------------------------------------------------------------------
 * TLS (https only)
 * ------------------------------------------------------------------------- */

static void tls_err(char *err, size_t err_len, const char *what, const fpc_conn *c)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    long vr = c && c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;

    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    if (vr != X509_V_OK)
        fp_set_err(err, err_len, "%s: server certificate not accepted: %s", what,
                   X509_verify_cert_error_string(vr));
    else
        fp_set_err(err, err_len, "%s: %s", what, buf[0] ? buf : "TLS error");
}

/* The SSL_CTX, made on first use under h->mu. */
static SSL_CTX *tls_ctx(fpc_http *h, char *err, size_t err_len)
{
    SSL_CTX *ctx;

    pthread_mutex_lock(&h->mu);
    ctx = h->ctx;
    if (!ctx) {
        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx) {
            tls_err(err, err_len, "TLS setup", NULL);
            goto out;
        }
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        /* A body delimited by close may end without close_notify. */
        SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
        if (h->cafile ? SSL_CTX_load_verify_locations(ctx, h->cafile, NULL) != 1
                      : SSL_CTX_set_default_verify_paths(ctx) != 1) {
            char what[300];
            snprintf(what, sizeof what, "TLS: cannot load the CA certificates %s",
                     h->cafile ? h->cafile : "(system default)");
            tls_err(err, err_len, what, NULL);
            SSL_CTX_free(ctx);
            ctx = NULL;
            goto out;
        }
        h->ctx = ctx;
    }
out:
    pthread_mutex_unlock(&h->mu);
    return ctx;
}

/* SSL_write without SIGPIPE: OpenSSL writes with write(2), which raises SIGPIPE on a
 * closed connection; block it for the call and take a pending one away. */
static int tls_write(SSL *ssl, const void *p, int n)
{
    sigset_t pipe_set, old;
    int rc, saved;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    rc = SSL_write(ssl, p, n);
    saved = errno;
    if (rc <= 0 && !sigismember(&old, SIGPIPE)) {
        sigset_t pending;
        struct timespec zero = {0, 0};
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE))
            sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return rc;
}

static fp_status tls_handshake(fpc_http *h, fpc_conn *c, xfer *x, char *err, size_t err_len)
{
    SSL_CTX *ctx = tls_ctx(h, err, err_len);
    unsigned char ip[16];
    bool is_ip;
    char what[300];

    if (!ctx)
        return FP_ERR_UNAVAILABLE;
    c->ssl = SSL_new(ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        tls_err(err, err_len, "TLS setup", c);
        return FP_ERR_NOMEM;
    }
    is_ip = inet_pton(AF_INET, h->host, ip) == 1 || inet_pton(AF_INET6, h->host, ip) == 1;
    if (is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), h->host) != 1) {
            tls_err(err, err_len, "TLS setup", c);
            return FP_ERR_INTERNAL;
        }
    } else if (SSL_set_tlsext_host_name(c->ssl, h->host) != 1 ||
               SSL_set1_host(c->ssl, h->host) != 1) {
        tls_err(err, err_len, "TLS setup", c);
        return FP_ERR_INTERNAL;
    }
    snprintf(what, sizeof what, "TLS handshake with %s", h->hostport);
    for (;;) {
        int rc = SSL_connect(c->ssl), e, w;
        if (rc == 1)
            return FP_OK;
        e = SSL_get_error(c->ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
                fp_set_err(err, err_len, "%s: %s", what,
                           errno ? strerror(errno) : "the server closed the connection");
            else
                tls_err(err, err_len, what, c);
            return FP_ERR_UNAVAILABLE;
        }
        w = wait_fd(c->fd, e == SSL_ERROR_WANT_WRITE, x);
        if (w != W_READY) {
            char m[200];
            wait_err(w, x, "in the TLS handshake", m, sizeof m);
            fp_set_err(err, err_len, "%s: %s", what, m);
            return FP_ERR_UNAVAILABLE;
        }
    }
}

/* ---------------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------------- */

/* Connect to h's origin (every address getaddrinfo gives, in order). */
static fp_status conn_open(fpc_http *h, xfer *x, int connect_ms, fpc_conn **out, bool *stopped,
                           char *err, size_t err_len)
{
    struct addrinfo hints, *res = NULL, *ai;
    fpc_conn *c;
    char last[200] = "no address";
    int rc;
    fp_status st;

    *out = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    rc = getaddrinfo(h->host, h->port, &hints, &res);
    if (rc) {
        fp_set_err(err, err_len, "cannot resolve %s: %s", h->host,
                   rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return FP_ERR_UNAVAILABLE;
    }
    c = fp_calloc(1, sizeof *c);
    if (!c) {
        freeaddrinfo(res);
        fp_set_err(err, err_len, "out of memory");
        return FP_ERR_NOMEM;
    }
    c->fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        int w, soerr = 0, one = 1;
        socklen_t sl = sizeof soerr;

        if (fd < 0) {
            snprintf(last, sizeof last, "socket: %s", strerror(errno));
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                snprintf(last, sizeof last, "%s", strerror(errno));
                close(fd);
                continue;
            }
            x->connect_by = fp_mono_ms() + connect_ms;
            w = wait_fd(fd, true, x);
            x->connect_by = 0;
            if (w != W_READY) {
                close(fd);
                if (w == W_STOPPED) {
                    *stopped = true;
                    st = FP_OK;
                    goto out;
                }
                if (w == W_CONNECT_TIMEOUT)
                    snprintf(last, sizeof last, "timed out after %d ms", connect_ms);
                else
                    wait_err(w, x, "while connecting", last, sizeof last);
                if (w == W_TIMEOUT)
                    break;
                continue;
            }
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
                snprintf(last, sizeof last, "%s", strerror(soerr ? soerr : errno));
                close(fd);
                continue;
            }
        }
        /* Requests are written whole; do not let Nagle hold back their last segment. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        break;
    }
    if (c->fd < 0) {
        fp_set_err(err, err_len, "cannot connect to %s: %s", h->hostport, last);
        st = FP_ERR_UNAVAILABLE;
        goto out;
    }
    if (h->tls) {
        /* The handshake counts as connecting. */
        x->connect_by = fp_mono_ms() + connect_ms;
        st = tls_handshake(h, c, x, err, err_len);
        x->connect_by = 0;
        if (st)
            goto out;
    }
    *out = c;
    c = NULL;
    st = FP_OK;
out:
    conn_close(c);
    freeaddrinfo(res);
    return st;
}

/* Take the kept connection unless the server has already closed it (or sent something
 * unasked, which is as bad): then it is readable while idle. */
static fpc_conn *conn_take_idle(fpc_http *h)
{
    fpc_conn *c;

    pthread_mutex_lock(&h->mu);
    c = h->idle;
    h->idle = NULL;
    pthread_mutex_unlock(&h->mu);
    if (c) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, 0) != 0 || (c->ssl && SSL_pending(c->ssl) > 0)) {
            conn_close(c);
            c = NULL;
        }
    }
    return c;
}

static void conn_give_back(fpc_http *h, fpc_conn *c)
{
    pthread_mutex_lock(&h->mu);
    if (!h->idle) {
        h->idle = c;
        c = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    conn_close(c); /* another request kept its connection first */
}

/* Write all n bytes. W_READY, or a W_* with errno / err set. */
static int conn_write(fpc_conn *c, const char *p, size_t n, xfer *x, char *err, size_t err_len)
{
    while (n > 0) {
        bool want_write = true;
        ssize_t k;

        if (c->ssl) {
            int chunk = n > (1u << 30) ? 1 << 30 : (int)n, rc = tls_write(c->ssl, p, chunk);
            if (rc > 0) {
                k = rc;
            } else {
                int e = SSL_get_error(c->ssl, rc);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
                        fp_set_err(err, err_len, "sending the request: %s",
                                   strerror(errno ? errno : EPIPE));
                    else
                        tls_err(err, err_len, "sending the request", c);
                    return W_ERROR;
                }
                want_write = e == SSL_ERROR_WANT_WRITE;
                k = -1;
            }
        } else {
            k = send(c->fd, p, n, MSG_NOSIGNAL);
            if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fp_set_err(err, err_len, "sending the request: %s", strerror(errno));
                return W_ERROR;
            }
        }
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        int w = wait_fd(c->fd, want_write, x);
        if (w != W_READY) {
            wait_err(w, x, "sending the request", err, err_len);
            return w;
        }
    }
    return W_READY;
}

/* Read what is there: > 0 bytes, 0 at the end of the stream, -1 would block
 * (*want_write says which way), -2 error (err set). */
static ssize_t conn_read(fpc_conn *c, char *buf, size_t cap, bool *want_write, char *err,
                         size_t err_len)
{
    *want_write = false;
    if (c->ssl) {
        int rc = SSL_read(c->ssl, buf, (int)cap), e;
        if (rc > 0)
            return rc;
        e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            *want_write = e == SSL_ERROR_WANT_WRITE;
            return -1;
        }
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            if (errno == 0)
                return 0;
            fp_set_err(err, err_len, "receiving the answer: %s", strerror(errno));
        } else {
            tls_err(err, err_len, "receiving the answer", c);
        }
        return -2;
    }
    for (;;) {
        ssize_t k = recv(c->fd, buf, cap, 0);
        if (k >= 0)
            return k;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -1;
        fp_set_err(err, err_len, "receiving the answer: %s", strerror(errno));
        return -2;
    }
}

/* ---------------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------------- */

/* Collects a non-streaming body up to its limit. */
typedef struct collect {
    fp_buf *body;
    size_t max;
    bool over;
} collect;

static fp_status collect_body(int status, const char *p, size_t n, void *arg)
{
    collect *k = arg;
    fp_status st;

    (void)status;
    if (k->body->len + n > k->max) {
        k->over = true;
        return FP_ERR_TOO_LARGE;
    }
    st = fp_buf_append(k->body, p, n);
    return st;
}

static bool has_crlf(const char *z)
{
    return z && strpbrk(z, "\r\n") != NULL;
}

/* The request bytes: request line, headers, body. */
static fp_status build_request(const fpc_http *h, const fpc_http_req *req, fp_buf *b, char *err,
                               size_t err_len)
{
    bool sends_body = req->body || req->body_len || strcmp(req->method, "PUT") == 0 ||
                      strcmp(req->method, "POST") == 0 || strcmp(req->method, "PATCH") == 0;

    if (has_crlf(req->method) || has_crlf(req->target) || strpbrk(req->target, " \t")) {
        fp_set_err(err, err_len, "the request line would hold a space or a line break");
        return FP_ERR_INVALID;
    }
    for (const char *const *hd = req->headers; hd && *hd; hd++)
        if (has_crlf(*hd) || !strchr(*hd, ':')) {
            fp_set_err(err, err_len, "request header '%.40s' holds a line break or no ':'", *hd);
            return FP_ERR_INVALID;
        }
    fp_buf_init(b, 16384 + req->body_len + 65536);
    fp_buf_printf(b, "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: fieldplane-connector\r\n",
                  req->method, h->prefix, req->target, h->hostport);
    for (const char *const *hd = req->headers; hd && *hd; hd++) {
        fp_buf_append_str(b, *hd);
        fp_buf_append(b, "\r\n", 2);
    }
    if (sends_body)
        fp_buf_printf(b, "Content-Length: %zu\r\n", req->body_len);
    fp_buf_append(b, "\r\n", 2);
    if (req->body_len)
        fp_buf_append(b, req->body, req->body_len);
    if (b->err) {
        fp_set_err(err, err_len, "%s",
                   b->err == FP_ERR_NOMEM ? "out of memory for the request"
                                          : "the request headers are too long");
        fp_buf_clear(b);
        return b->err == FP_ERR_NOMEM ? FP_ERR_NOMEM : FP_ERR_TOO_LARGE;
    }
    return FP_OK;
}

/* The outcome of one attempt. */
enum { A_DONE, A_RETRY, A_FAIL };

static int attempt(fpc_http *h, const fpc_http_req *req, const fp_buf *wire, xfer *x, int *status,
                   fp_buf *body, bool *stopped, fp_status *st_out, char *err, size_t err_len,
                   bool allow_reuse)
{
    char buf[FPC_HTTP_READ_CHUNK];
    fpc_conn *c = NULL;
    fpc_http_parser *p = NULL;
    collect k = {body, req->max_body ? req->max_body : FPC_HTTP_MAX_BODY, false};
    bool reused = false, reusable = false;
    int outcome = A_FAIL;
    fp_status st = FP_OK;
    int w;

    if (allow_reuse && !req->fresh_connection) {
        c = conn_take_idle(h);
        reused = c != NULL;
    }
    if (!c) {
        st = conn_open(
            h, x, req->connect_timeout_ms ? req->connect_timeout_ms : FPC_HTTP_CONNECT_TIMEOUT_MS,
            &c, stopped, err, err_len);
        if (st || *stopped)
            goto out;
    }
    p = fp_malloc(sizeof *p);
    if (!p) {
        fp_set_err(err, err_len, "out of memory");
        st = FP_ERR_NOMEM;
        goto out;
    }
    fpc_http_parser_init(p, strcmp(req->method, "HEAD") == 0,
                         req->on_body ? req->on_body : collect_body, req->on_body ? req->arg : &k);

    w = conn_write(c, wire->data, wire->len, x, err, err_len);
    if (w == W_STOPPED) {
        *stopped = true;
        goto out;
    }
    if (w != W_READY) {
        if (reused && w == W_ERROR) {
            outcome = A_RETRY;
            goto out;
        }
        st = FP_ERR_UNAVAILABLE;
        goto out;
    }
    x->last_rx = fp_mono_ms();
    for (;;) {
        bool want_write;
        ssize_t n = conn_read(c, buf, sizeof buf, &want_write, err, err_len);

        if (n > 0) {
            size_t used = 0;
            x->last_rx = fp_mono_ms();
            st = fpc_http_parser_feed(p, buf, (size_t)n, &used);
            if (st) {
                /* A streaming callback that refuses has said why itself. */
                if (p->refused && k.over && k.max % (1u << 20) == 0)
                    fp_set_err(err, err_len, "response body over %zu MiB (the limit)", k.max >> 20);
                else if (p->refused && k.over)
                    fp_set_err(err, err_len, "response body over %zu bytes (the limit)", k.max);
                else if (p->refused && !req->on_body)
                    fp_set_err(err, err_len, "out of memory for the response body");
                else if (!p->refused)
                    fp_set_err(err, err_len, "%s", p->err);
                goto out;
            }
            if (fpc_http_parser_done(p)) {
                /* Bytes after the answer were never asked for: do not reuse. */
                reusable = !p->close && used == (size_t)n;
                break;
            }
            if (req->stop && atomic_load(req->stop)) {
                *stopped = true;
                goto out;
            }
            continue;
        }
        if (n == 0) {
            if (reused && !fpc_http_parser_started(p)) {
                outcome = A_RETRY;
                goto out;
            }
            st = fpc_http_parser_eof(p);
            if (st) {
                fp_set_err(err, err_len, "%s", p->err);
                goto out;
            }
            break;
        }
        if (n == -2) {
            if (reused && !fpc_http_parser_started(p)) {
                outcome = A_RETRY;
                goto out;
            }
            st = FP_ERR_UNAVAILABLE;
            goto out;
        }
        w = wait_fd(c->fd, want_write, x);
        if (w == W_STOPPED) {
            *stopped = true;
            goto out;
        }
        if (w != W_READY) {
            wait_err(w, x, "waiting for the answer", err, err_len);
            st = FP_ERR_UNAVAILABLE;
            goto out;
        }
    }
    *status = p->status;
    outcome = A_DONE;
out:
    if (*stopped)
        st = FP_OK;
    if (outcome == A_DONE && reusable && !req->fresh_connection)
        conn_give_back(h, c);
    else
        conn_close(c);
    fp_free(p);
    *st_out = st;
    if (outcome == A_FAIL && (st == FP_OK && !*stopped))
        *st_out = FP_ERR_UNAVAILABLE;
    if (*stopped)
        outcome = A_DONE;
    return outcome;
}

fp_status fpc_http_do(fpc_http *h, const fpc_http_req *req, int *status, fp_buf *body,
                      bool *stopped, char *err, size_t err_len)
{
    fp_buf wire;
    fp_buf dummy;
    bool stop_seen = false;
    xfer x;
    fp_status st;
    int outcome;

    *status = 0;
    if (!body)
        body = &dummy;
    fp_buf_init(body, (req->max_body ? req->max_body : FPC_HTTP_MAX_BODY) + 1);
    if (stopped)
        *stopped = false;
    if (!req->method || !req->target || req->target[0] != '/') {
        fp_set_err(err, err_len, "the request target must start with '/'");
        return FP_ERR_INVALID;
    }
    st = build_request(h, req, &wire, err, err_len);
    if (st)
        return st;
    memset(&x, 0, sizeof x);
    x.total_ms = req->total_timeout_ms;
    x.deadline = req->total_timeout_ms ? fp_mono_ms() + req->total_timeout_ms : 0;
    x.idle_ms = req->idle_timeout_ms;
    x.last_rx = fp_mono_ms();
    x.stop = req->stop;

    outcome = attempt(h, req, &wire, &x, status, body, &stop_seen, &st, err, err_len, true);
    if (outcome == A_RETRY) {
        /* The kept connection had been closed by the server: once more on a new one. */
        fp_buf_reset(body);
        outcome = attempt(h, req, &wire, &x, status, body, &stop_seen, &st, err, err_len, false);
    }
    fp_buf_clear(&wire);
    if (stopped)
        *stopped = stop_seen;
    if (body == &dummy)
        fp_buf_clear(&dummy);
    return outcome == A_DONE ? st : (st ? st : FP_ERR_UNAVAILABLE);
}
