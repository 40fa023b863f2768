/*
 * fuzz_cli_import.c - libFuzzer harness for the import of data points and
 * datasets (CSV, JSON and YAML files that people author in spreadsheets and
 * editors).
 *
 * The first byte picks the format and whether it is a data point import (into
 * one dataset) or a dataset import; the rest is the file. Whatever the input,
 * the reader must not crash or leak, must report a bad file, and what it
 * accepts must be datasets with a name and a list of data points that each
 * have a name and a dataSource, with no name twice in a dataset.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sets(const json_t *sets, long n_good)
{
    size_t i, j;
    const json_t *set, *pt;
    long n = 0;

    json_array_foreach(sets, i, set)
    {
        const json_t *points = json_object_get(set, "dataPoints");
        json_t *seen = json_object();
        if (!json_is_string(json_object_get(set, "name")) || !json_is_array(points))
            abort();
        if (json_object_get(set, "\x01seen"))
            abort(); /* the reader's bookkeeping must not leak into documents */
        json_array_foreach(points, j, pt)
        {
            const char *name = json_string_value(json_object_get(pt, "name"));
            if (!name || !*name || !json_string_length(json_object_get(pt, "dataSource")))
                abort();
            if (json_object_get(seen, name))
                abort();
            json_object_set_new(seen, name, json_true());
            n++;
        }
        json_decref(seen);
    }
    if (n != n_good)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    fp_ctx ctx;
    json_t *sets;
    int n_bad;
    long n_good;

    if (size < 1)
        return 0;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    memset(&ctx, 0, sizeof ctx);
    ctx.out = devnull;
    ctx.err = devnull;
    sets = fp_import_read(&ctx, (const char *)data + 1, size - 1, (fp_import_format)(data[0] % 3),
                          "fuzz", (data[0] & 0x80) ? "ds" : NULL, &n_bad, &n_good);
    if (!sets) {
        if (n_bad < 1)
            abort();
        return 0;
    }
    if (n_bad < 0 || n_good < 0)
        abort();
    check_sets(sets, n_good);
    json_decref(sets);
    return 0;
}
