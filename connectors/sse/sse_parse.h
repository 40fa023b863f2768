/*
 * sse_parse.h - incremental parser for a server-sent events stream.
 *
 * Follows the event stream interpretation of the WHATWG HTML standard: lines end in
 * CRLF, LF or CR (also when the CR and the LF arrive in different reads); a UTF-8 byte
 * order mark at the start of the stream is skipped; a line starting with ':' is a
 * comment; "field: value" loses one space after the colon, a line without a colon is a
 * field with an empty value; "data" lines are joined with LF, "event" sets the type
 * (default "message"), "id" sets the last event id (kept across events, ignored when
 * the value holds a NUL), "retry" sets the reconnection time (ASCII digits only); an
 * empty line dispatches the event, unless it has no data. Bytes that are not valid
 * UTF-8 reach the connector as U+FFFD, as a decoding browser would show them.
 *
 * The parser is fed bytes in any chunking and calls back once per event; the result
 * does not depend on how the stream was split. Line and event sizes are bounded: a
 * stream that passes a bound puts the parser in an error state with a message naming
 * the limit, and the connection should be dropped.
 */
#ifndef FP_SSE_PARSE_H
#define FP_SSE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fieldplane/fp_buf.h>
#include <fieldplane/fp_status.h>

#define FP_SSE_DEFAULT_MAX_LINE (1024u * 1024u)
#define FP_SSE_DEFAULT_MAX_EVENT (4u * 1024u * 1024u)

/* One dispatched event; every pointer is valid only during the callback. */
typedef struct fp_sse_event {
    const char *type; /* the event type, "message" when the stream gave none */
    size_t type_len;  /* the type may hold NUL bytes: compare with this length */
    const char *data; /* NUL-terminated; data_len excludes the NUL */
    size_t data_len;
    const char *id; /* the last event id of the stream at dispatch ("" when none) */
} fp_sse_event;

typedef void (*fp_sse_event_fn)(void *arg, const fp_sse_event *ev);

typedef struct fp_sse_parser {
    fp_sse_event_fn on_event;
    void *arg;
    size_t max_line;
    size_t max_event;
    fp_buf line;       /* the line being read */
    fp_buf data;       /* the data buffer of the event being read */
    fp_buf type;       /* the event type buffer */
    fp_buf id_buf;     /* the last event id buffer (set by "id" lines) */
    fp_buf last_id;    /* the last event id string, committed at each dispatch */
    fp_buf scratch;    /* UTF-8 repair of the values handed to the callback */
    int64_t retry_ms;  /* -1 until a "retry" line set it */
    unsigned bom_seen; /* bytes of a leading byte order mark matched so far */
    bool started;      /* past the possible byte order mark */
    bool after_cr;     /* the last byte was a CR: a following LF belongs to it */
    fp_status err;
    char err_msg[128];
} fp_sse_parser;

/* Set up p. max_line and max_event of 0 take the defaults above. */
void fp_sse_init(fp_sse_parser *p, size_t max_line, size_t max_event, fp_sse_event_fn on_event,
                 void *arg);
/* Free what p holds. */
void fp_sse_clear(fp_sse_parser *p);

/* Feed len bytes. Returns FP_OK, or the error that stopped the parser (FP_ERR_TOO_LARGE
 * for a line or an event over its bound, FP_ERR_NOMEM), with fp_sse_error() telling
 * which; once failed, every later feed fails the same way until fp_sse_new_stream(). */
fp_status fp_sse_feed(fp_sse_parser *p, const void *buf, size_t len);

/* The stream ended (or is being reconnected): drop a partly read line and event, as
 * the standard does at the end of a stream, and expect a byte order mark again. The
 * last event id and the reconnection time are kept, as they are across reconnects. */
void fp_sse_new_stream(fp_sse_parser *p);

/* The last event id committed so far ("" when none): the Last-Event-ID to send. */
const char *fp_sse_last_id(const fp_sse_parser *p);
/* Forget the last event id (a new stream from scratch). */
void fp_sse_reset_id(fp_sse_parser *p);
/* The reconnection time the stream asked for, or -1 when it never said. */
int64_t fp_sse_retry_ms(const fp_sse_parser *p);
/* Why the parser stopped ("" when it did not). */
const char *fp_sse_error(const fp_sse_parser *p);

/* Append the bytes p[0..n) to out as valid UTF-8, each maximal invalid subsequence
 * replaced by U+FFFD (the WHATWG UTF-8 decoder's rule). */
fp_status fp_sse_utf8_repair(fp_buf *out, const char *p, size_t n);

#endif
