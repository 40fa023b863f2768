/*
 * fuzz_cli_yaml.c - libFuzzer harness for the YAML reader of the client
 * (Kubernetes custom resources for apply, import files), which also reads
 * JSON.
 *
 * The bytes are parsed into JSON documents; a stream that parses is written
 * back as YAML, and reading that must give the same documents (the emitter
 * quotes exactly what would otherwise change type). The item-line finders
 * that name bad rows run on the same bytes. Nothing may crash, leak, hang on
 * anchors and aliases, or recurse without bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char err[512];
    json_t *docs, *again, *lines;
    fp_buf b;

    lines = fp_yaml_item_lines(text, size, "datasets");
    json_decref(lines);
    lines = fp_yaml_sub_item_lines(text, size, "datasets", "dataPoints");
    json_decref(lines);

    docs = fp_yaml_parse(text, size, err, sizeof err);
    if (!docs) {
        if (!err[0])
            abort(); /* an error always says what */
        return 0;
    }
    fp_buf_init(&b, 1u << 28);
    if (fp_yaml_emit_all(&b, docs) != FP_OK)
        abort();
    again = fp_yaml_parse(b.data ? b.data : "", b.len, err, sizeof err);
    if (!again || json_array_size(again) != json_array_size(docs))
        abort();
    for (size_t i = 0; i < json_array_size(docs); i++)
        if (!json_equal(json_array_get(docs, i), json_array_get(again, i)))
            abort();
    json_decref(again);
    fp_buf_clear(&b);
    json_decref(docs);
    return 0;
}
