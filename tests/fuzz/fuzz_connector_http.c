/*
 * fuzz_connector_http.c - libFuzzer harness for the HTTP/1.1 response parser of the
 * connector SDK (fpc_http_parser, what reads the registry's answers).
 *
 * The input is the bytes a server sends. The first byte picks a piece size; the rest is
 * parsed three ways - in one piece, byte by byte, and in pieces of that size - and then
 * ended as if the connection closed. Status, body bytes, how many bytes were used, the
 * outcome and the error text must be identical each way, the body must never pass the
 * Content-Length, and an error must come with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fp_buf.h"
#include "../../lib/connector/fpc_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
    fp_status st, eof_st;
    int status;
    bool done;
    size_t used;
    fp_buf body;
    char err[256];
} outcome;

static fp_status to_buf(int status, const char *p, size_t n, void *arg)
{
    (void)status;
    if (n == 0)
        abort(); /* empty deliveries are never made */
    return fp_buf_append(arg, p, n);
}

static void parse(const char *p, size_t n, size_t piece, outcome *o)
{
    fpc_http_parser *ps = malloc(sizeof *ps);
    size_t off = 0;

    if (!ps)
        abort();
    memset(o, 0, sizeof *o);
    fp_buf_init(&o->body, n + 16); /* never reached: a refusal would be noticed at a
                                    * split-dependent byte count */
    fpc_http_parser_init(ps, false, to_buf, &o->body);
    while (off < n) {
        size_t take = n - off < piece ? n - off : piece, used = 0;
        o->st = fpc_http_parser_feed(ps, p + off, take, &used);
        if (used > take)
            abort();
        off += used;
        if (o->st || fpc_http_parser_done(ps))
            break;
        if (used != take)
            abort(); /* short only when the answer ended */
    }
    o->used = off;
    o->eof_st = o->st ? o->st : fpc_http_parser_eof(ps);
    o->done = fpc_http_parser_done(ps);
    o->status = ps->status;
    if (o->eof_st && !ps->err[0])
        abort(); /* every failure says what was wrong */
    if (ps->has_length && !ps->chunked && ps->body_len > ps->length)
        abort();
    if (o->body.err == FP_OK && ps->body_len != o->body.len)
        abort();
    memcpy(o->err, ps->err, sizeof o->err);
    free(ps);
}

static void same(const outcome *a, const outcome *b)
{
    if (a->st != b->st || a->eof_st != b->eof_st || a->status != b->status || a->done != b->done ||
        a->body.len != b->body.len || a->body.err != b->body.err ||
        (a->body.len && memcmp(a->body.data, b->body.data, a->body.len) != 0))
        abort();
    /* Where a failure is noticed may differ by split only in the count of bytes used
     * before it; the message must be the same. */
    if (strcmp(a->err, b->err) != 0)
        abort();
    if (!a->st && a->used != b->used)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    outcome whole, bytes, pieces;
    size_t piece;

    if (size < 1)
        return 0;
    piece = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    parse((const char *)data, size, size ? size : 1, &whole);
    parse((const char *)data, size, 1, &bytes);
    parse((const char *)data, size, piece, &pieces);
    same(&whole, &bytes);
    same(&whole, &pieces);
    fp_buf_clear(&whole.body);
    fp_buf_clear(&bytes.body);
    fp_buf_clear(&pieces.body);
    return 0;
}
