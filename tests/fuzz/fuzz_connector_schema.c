/*
 * fuzz_connector_schema.c - libFuzzer harness for JSON Schema inference.
 *
 * The bytes are split on newlines into payloads, each parsed as JSON and fed to one
 * schema builder (with a few defined names), as a device's successive answers would be.
 * observe must answer "changed" exactly when the text differs from the one before; after
 * each change the text must still be valid JSON of the draft-07 shape, and a second
 * builder fed the same payloads must end with the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An internal header of the library, not on its public include path. */
#include "../../lib/connector/fpc_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void feed(fpc_schema *s, const uint8_t *data, size_t size)
{
    size_t off = 0;
    char *before = strdup(fpc_schema_text(s));

    if (!before)
        abort();
    while (off < size) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
        json_t *v = json_loadb((const char *)data + off, len, JSON_DECODE_ANY, NULL);

        if (v) {
            /* observe decides "changed" on the tree without rendering: it must say so
             * exactly when the text differs. */
            bool changed = fpc_schema_observe(s, v);
            const char *text = fpc_schema_text(s);
            if (!text || changed != (strcmp(before, text) != 0))
                abort();
            if (changed) {
                json_t *doc = json_loads(text, 0, NULL);
                if (!doc || !json_is_object(json_object_get(doc, "properties")))
                    abort();
                json_decref(doc);
                free(before);
                before = strdup(text);
                if (!before)
                    abort();
            }
        }
        json_decref(v);
        off += len + 1;
    }
    free(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"temperature", "pressure", "status"};
    fpc_schema *a = fpc_schema_new("fuzz/payload", names, 3);
    fpc_schema *b = fpc_schema_new("fuzz/payload", names, 3);

    if (!a || !b)
        abort();
    feed(a, data, size);
    feed(b, data, size);
    if (strcmp(fpc_schema_text(a), fpc_schema_text(b)) != 0)
        abort();
    (void)fpc_schema_complete(a);
    fpc_schema_free(a);
    fpc_schema_free(b);
    return 0;
}
