/*
 * fuzz_cli_answer.c - libFuzzer harness for what the client does with the
 * registry's answers: error bodies turned into messages with the field path
 * (fp_report), and documents and lists printed as tables, JSON and YAML
 * (fp_print, fp_col_text). The answer is whatever a server (or something
 * pretending to be one) sends, so no shape may be assumed.
 *
 * The first byte picks the HTTP status and the output format; the rest is
 * the body, parsed by jansson as the HTTP client does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "fp_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long k_status[] = {0, 400, 401, 403, 404, 409, 410, 412, 413, 500, 502, 299};

/* Columns of every kind, on paths that answers have and do not have. */
static const fp_col k_cols[] = {
    {"NAME", "name", FP_COL_VALUE},
    {"DEVICE", "properties.deviceRef.deviceName", FP_COL_VALUE},
    {"DATASETS", "properties.datasets", FP_COL_COUNT},
    {"POINTS", "properties.datasets", FP_COL_NAMES},
    {"TAGS", "tags", FP_COL_KEYS},
    {"ENABLED", "properties.enabled", FP_COL_VALUE},
    {"ALL", "", FP_COL_VALUE},
    {"VERY.DEEP", "a.b.c.d.e.f.g.h", FP_COL_VALUE},
    {0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    fp_ctx ctx;
    fp_resp r;
    int rc;

    if (size < 1)
        return 0;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    memset(&ctx, 0, sizeof ctx);
    ctx.out = devnull;
    ctx.err = devnull;
    ctx.output = (fp_output)((data[0] >> 4) % 3);

    memset(&r, 0, sizeof r);
    fp_buf_init(&r.raw, 1u << 20);
    fp_buf_append(&r.raw, data + 1, size - 1);
    r.status = k_status[(data[0] & 0x0f) % (sizeof k_status / sizeof k_status[0])];
    r.body = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
    if (data[0] & 1)
        snprintf(r.transport_error, sizeof r.transport_error, "connection reset");
    rc = fp_exit_for_http(r.status);
    if (rc == FP_EXIT_OK)
        rc = FP_EXIT_ERROR;
    if (fp_report(&ctx, rc, &r, (data[0] & 2) ? "asset 'a'" : NULL) != rc)
        abort();

    if (r.body) {
        /* Printed as a document, as the list of a collection, and cell by cell. */
        json_t *value = json_object_get(r.body, "value");
        fp_print(&ctx, r.body, k_cols);
        if (json_is_array(value))
            fp_print(&ctx, value, k_cols);
        for (int c = 0; k_cols[c].header; c++) {
            char *cell = fp_col_text(r.body, &k_cols[c]);
            for (const char *p = cell; p && *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                    abort(); /* a cell stays on one line, without control characters */
            fp_free(cell);
        }
    }
    fp_resp_clear(&r);
    return 0;
}
