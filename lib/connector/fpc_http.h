/*
 * fpc_http.h - the connector SDK's own small HTTP/1.1 client (what the registry client
 * speaks through).
 *
 * Internal to libfieldplane-connector. Written so that a connector process neither loads
 * libcurl and its dependency tree nor initialises OpenSSL when the registry URL is plain
 * http: TLS (OpenSSL's libssl) is set up only for an https URL. Blocking sockets with
 * poll-based timeouts; one keep-alive connection is kept per client and reused by
 * sequential requests from any thread; a reused connection that the server had closed
 * is retried once on a new one.
 *
 * Two layers: fpc_http_parser is a pure function over response bytes (no sockets; the
 * fuzz harness drives it), fpc_http_do runs one request on a connection. Every error
 * message says what was wrong ("response header line longer than 8192 bytes"); callers
 * put "METHOD URL: " in front.
 */
#ifndef FPC_HTTP_H
#define FPC_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp_buf.h"
#include "fp_status.h"

/* Limits against a broken or hostile server. */
#define FPC_HTTP_MAX_LINE 8192          /* one status, header, chunk-size or trailer line */
#define FPC_HTTP_MAX_HEADER (64u << 10) /* the whole header section (and the trailers) */
#define FPC_HTTP_MAX_BODY (64u << 20)   /* default body limit of a non-streaming request */

/* ---------------------------------------------------------------------------
 * Response parser
 * ------------------------------------------------------------------------- */

/* Receives body bytes as they are decoded (chunk framing removed), with the status code
 * of the answer they belong to. A non-zero return stops the parser:
 * fpc_http_parser_feed then returns that status. */
typedef fp_status (*fpc_http_body_fn)(int status, const char *p, size_t n, void *arg);

typedef struct fpc_http_parser {
    int state;
    int status;          /* the final status code, once the header is in */
    bool no_body;        /* HEAD request, or a 204/304 answer */
    bool chunked;        /* Transfer-Encoding: chunked */
    bool has_length;     /* Content-Length given */
    bool close;          /* Connection: close, HTTP/1.0 without keep-alive, or body until close */
    bool http10;         /* the status line said HTTP/1.0 */
    bool keep_alive_10;  /* HTTP/1.0 with Connection: keep-alive */
    bool refused;        /* the body callback returned an error */
    uint64_t length;     /* Content-Length */
    uint64_t remaining;  /* of the Content-Length body or of the current chunk */
    uint64_t body_len;   /* body bytes delivered so far */
    size_t header_bytes; /* of the header section (or trailers) so far */
    size_t line_len;
    char line[FPC_HTTP_MAX_LINE + 1];
    fpc_http_body_fn on_body;
    void *arg;
    char err[256];
} fpc_http_parser;

/* head: the request was HEAD (no body whatever the headers say). on_body may be NULL
 * (the body is skipped). */
void fpc_http_parser_init(fpc_http_parser *p, bool head, fpc_http_body_fn on_body, void *arg);

/* Feed n received bytes. *used (may be NULL) = how many were consumed: all of them, or
 * fewer when the response ended inside buf (the rest belongs to no response we asked
 * for). FP_OK, or an error with p->err saying what was wrong (FP_ERR_INVALID for bad
 * syntax, FP_ERR_TOO_LARGE for a limit) or the status the body callback returned. */
fp_status fpc_http_parser_feed(fpc_http_parser *p, const char *buf, size_t n, size_t *used);

/* The connection ended: FP_OK when that completes the response (a body delimited by
 * close), else FP_ERR_UNAVAILABLE with p->err naming how much was missing. */
fp_status fpc_http_parser_eof(fpc_http_parser *p);

/* The whole response (header and body) is in. */
bool fpc_http_parser_done(const fpc_http_parser *p);

/* Any byte of a response was seen (the status line began). */
bool fpc_http_parser_started(const fpc_http_parser *p);

/* ---------------------------------------------------------------------------
 * Client
 * ------------------------------------------------------------------------- */

typedef struct fpc_http fpc_http;

/* A client for the origin of base_url ("http://host[:port][/prefix]", "https://..."; an
 * IPv6 host in brackets). cafile: PEM bundle to verify an https server with, or NULL for
 * the system default. Nothing is connected yet, and for http OpenSSL is never touched.
 * NULL with err filled when the URL is not understood or memory runs out. */
fpc_http *fpc_http_new(const char *base_url, const char *cafile, char *err, size_t err_len);

/* Closes the kept connection. NULL is a no-op. */
void fpc_http_free(fpc_http *h);

typedef struct fpc_http_req {
    const char *method;         /* "GET", "PUT", ... */
    const char *target;         /* path and query, starts with '/'; the URL's prefix is put first */
    const char *const *headers; /* more "Name: value" lines, NULL-terminated, or NULL */
    const void *body;           /* request body or NULL (then no Content-Length unless body_len) */
    size_t body_len;
    int connect_timeout_ms;   /* 0: 5000 */
    int total_timeout_ms;     /* whole request; 0: none */
    int idle_timeout_ms;      /* longest silence while waiting for the answer; 0: none */
    size_t max_body;          /* body limit when on_body is NULL; 0: FPC_HTTP_MAX_BODY */
    fpc_http_body_fn on_body; /* streaming: body bytes go here instead of into *body */
    void *arg;
    atomic_int *stop;      /* when it becomes non-zero the request ends (checked every
                            * 100 ms); NULL: no stop */
    bool fresh_connection; /* do not use or keep the shared connection (a long stream) */
} fpc_http_req;

/* Run one request. On any HTTP answer FP_OK with *status set and, when req->on_body is
 * NULL, the body in *body (initialised here; the caller clears it). Errors fill err:
 * FP_ERR_UNAVAILABLE (cannot connect, connection lost, timeout), FP_ERR_INVALID (not an
 * HTTP answer), FP_ERR_TOO_LARGE (a limit), FP_ERR_NOMEM, or what on_body returned.
 * *stopped is set (may be NULL) when req->stop ended the request; the return is then
 * FP_OK. Safe to call from several threads at once on the same client. */
fp_status fpc_http_do(fpc_http *h, const fpc_http_req *req, int *status, fp_buf *body,
                      bool *stopped, char *err, size_t err_len);

#endif
