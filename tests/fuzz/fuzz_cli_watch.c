/*
 * fuzz_cli_watch.c - libFuzzer harness for the lines of the registry's watch
 * stream as `fieldplane watch` handles them: events, BOOKMARKs and the ERROR
 * that ends a stream which fell behind the history, printed as a table, JSON
 * or YAML. The stream comes from the network, so any bytes may arrive.
 *
 * The first byte picks the output format and the --count; the rest is split
 * into lines as the HTTP client splits the stream.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    fp_ctx ctx;
    fp_watch_state w;
    const char *p, *end;

    if (size < 1)
        return 0;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    memset(&ctx, 0, sizeof ctx);
    ctx.out = devnull;
    ctx.err = devnull;
    ctx.output = (fp_output)(data[0] % 3);
    memset(&w, 0, sizeof w);
    w.ctx = &ctx;
    w.left = (data[0] >> 2) % 4 ? (data[0] >> 2) % 4 : -1;
    w.last = -1;
    p = (const char *)data + 1;
    end = (const char *)data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        long long before = w.gaps;
        int stop = len ? fp_watch_line(&w, p, len) : 0;
        if (w.gaps < before || (w.gaps > before && !stop))
            abort(); /* a gap always ends the stream, so the watch resumes */
        if (stop && w.left == 0)
            break;
        p += len + 1;
    }
    return 0;
}
