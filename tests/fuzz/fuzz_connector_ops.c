/*
 * fuzz_connector_ops.c - libFuzzer harness for the request-head parser of the connector's
 * operations endpoint (rt_ops_parse_request, what reads /healthz and /metrics requests from
 * whoever connects).
 *
 * The input is the bytes a client sends. The whole is parsed, and then prefixes of it (each
 * one up to 512 bytes, a few beyond), as the server does while bytes arrive: a prefix must
 * either ask for more or reach the same outcome as the whole, a complete head must be found
 * at the same length, a parsed request must point inside the input with a path that starts
 * with '/' and holds no query, and every refusal must come with a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/connector/rt_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *p, size_t n, int rc, const rt_ops_request *r, const char *why)
{
    switch (rc) {
    case 0:
        if (why || r->head_len == 0 || r->head_len > n || r->head_len > RT_OPS_MAX_HEAD)
            abort();
        if (r->method < p || r->method_len == 0 || r->method + r->method_len > p + n)
            abort();
        /* The absolute-form without a path gives the static "/". */
        if (r->path_len == 0 || r->path[0] != '/' || memchr(r->path, '?', r->path_len))
            abort();
        if (r->path_len > 1 && (r->path < p || r->path + r->path_len > p + n))
            abort();
        if (r->minor != 0 && r->minor != 1)
            abort();
        break;
    case 1:
        if (n >= RT_OPS_MAX_HEAD)
            abort();
        break;
    case 400:
    case 431:
    case 505:
        if (!why || !*why)
            abort();
        if (rc == 431 && n < RT_OPS_MAX_HEAD)
            abort();
        break;
    default:
        abort();
    }
}

static int parse(const char *p, size_t n, rt_ops_request *r)
{
    const char *why = NULL;
    int rc = rt_ops_parse_request(p, n, r, &why);

    check(p, n, rc, r, why);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so that reading past the end is caught. */
    char *p = malloc(size ? size : 1);
    rt_ops_request whole, part;
    int rc;

    if (!p)
        return 0;
    memcpy(p, data, size);
    rc = parse(p, size, &whole);
    for (size_t k = 0; k < size; k += k < 512 ? 1 : 997) {
        int prc = parse(p, k, &part);
        if (prc == 1)
            continue;
        if (prc != rc && !(prc == 431 && k >= RT_OPS_MAX_HEAD))
            abort();
        if (prc == 0 && part.head_len != whole.head_len)
            abort();
    }
    free(p);
    return 0;
}
