/*
 * fuzz_sse_parse.c - libFuzzer harness for the server-sent events parser.
 *
 * The input is one stream. It is parsed three ways - in one piece, byte by byte, and
 * in chunks whose sizes come from the input's first byte - with small bounds so that
 * the limits are reached too. The events (type, id, data), the error state and the
 * last event id and retry must be identical each way, and every value handed to the
 * callback must be valid UTF-8 with data_len matching the data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fp_buf.h"
#include "sse_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when the n bytes at z are valid UTF-8 (nothing to repair). */
static int valid_utf8(const char *z, size_t n)
{
    fp_buf b;
    int ok;

    fp_buf_init(&b, 3 * n + 16);
    fp_sse_utf8_repair(&b, z, n);
    ok = b.err == FP_OK && b.len == n && (n == 0 || memcmp(b.data, z, n) == 0);
    fp_buf_clear(&b);
    return ok;
}

static void on_event(void *arg, const fp_sse_event *ev)
{
    fp_buf *out = arg;

    if (strlen(ev->data) > ev->data_len || strlen(ev->type) > ev->type_len || ev->type_len == 0)
        abort();
    if (!valid_utf8(ev->type, ev->type_len) || !valid_utf8(ev->id, strlen(ev->id)) ||
        !valid_utf8(ev->data, ev->data_len))
        abort();
    fp_buf_append(out, ev->type, ev->type_len);
    fp_buf_append(out, "\0", 1);
    fp_buf_append_str(out, ev->id);
    fp_buf_append(out, "\0", 1);
    fp_buf_append(out, ev->data, ev->data_len);
    fp_buf_append(out, "\0\1", 2);
}

/* Parse data in chunks (chunk 0 = one piece, else the sizes cycle from seed); returns the
 * serialised events followed by the final state. */
static void parse(const uint8_t *data, size_t size, size_t chunk, unsigned seed, fp_buf *out)
{
    fp_sse_parser p;
    size_t i = 0;
    fp_status st = FP_OK;

    fp_sse_init(&p, 256, 1024, on_event, out);
    while (i < size && !st) {
        size_t k = chunk ? chunk : size;
        if (seed) {
            k = 1 + (seed % 13);
            seed = seed * 1103515245u + 12345u;
        }
        if (k > size - i)
            k = size - i;
        st = fp_sse_feed(&p, data + i, k);
        i += k;
    }
    fp_buf_printf(out, "|st=%d|err=%s|id=%s|retry=%lld", (int)st, fp_sse_error(&p),
                  fp_sse_last_id(&p), (long long)fp_sse_retry_ms(&p));
    /* Reconnecting keeps the id and retry and accepts a new stream. */
    fp_sse_new_stream(&p);
    if (fp_sse_feed(&p, "data: again\n\n", 13))
        abort();
    fp_sse_clear(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_buf whole, bytes, chunks;

    fp_buf_init(&whole, 1u << 24);
    fp_buf_init(&bytes, 1u << 24);
    fp_buf_init(&chunks, 1u << 24);
    parse(data, size, 0, 0, &whole);
    parse(data, size, 1, 0, &bytes);
    parse(data, size, 0, size ? data[0] | 1u : 1u, &chunks);
    if (whole.err || bytes.err || chunks.err)
        abort();
    if (whole.len != bytes.len || memcmp(whole.data, bytes.data, whole.len))
        abort();
    if (whole.len != chunks.len || memcmp(whole.data, chunks.data, whole.len))
        abort();
    fp_buf_clear(&whole);
    fp_buf_clear(&bytes);
    fp_buf_clear(&chunks);
    return 0;
}
