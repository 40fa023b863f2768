/*
 * fuzz_connector_payload.c - the payload builder and the one JSON string escaper on any
 * bytes: the first byte splits the input into a name and a string value; whatever they hold
 * (quotes, control characters, invalid UTF-8, NULs), the message must be valid JSON whose one
 * member reads back as the input with each invalid byte replaced by U+FFFD, and
 * fp_json_quote must agree with the builder byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/connector/rt_internal.h"
#include "fp_json.h"

/* What the escaper promises a reader sees: valid UTF-8 kept, every other byte U+FFFD. */
static size_t expect(const uint8_t *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = fp_utf8_seq_len(p + i, n - i);
        if (l == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, l);
            o += l;
            i += l;
        }
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0] % size;
    const uint8_t *rest = data + 1;
    size_t n_rest = size - 1;
    if (split > n_rest)
        split = n_rest;
    /* Names are C strings: cut at the first NUL. */
    char *name = calloc(1, split + 1);
    if (!name)
        return 0;
    memcpy(name, rest, split);
    const char *val = (const char *)rest + split;
    size_t n_val = n_rest - split;

    fp_payload *p = fp_payload_new(0);
    if (!p || fp_payload_add_string(p, name, val, n_val) != 0)
        abort();
    size_t len;
    const char *text = fp_payload_text(p, &len);
    if (!text)
        abort();
    json_error_t e;
    json_t *doc = json_loadb(text, len, JSON_ALLOW_NUL, &e);
    if (!doc || json_object_size(doc) != 1)
        abort();
    char *want = malloc(n_val * 3 + 1);
    if (!want)
        abort();
    size_t n_want = expect((const uint8_t *)val, n_val, want);
    const char *key = json_object_iter_key(json_object_iter(doc));
    json_t *v = json_object_iter_value(json_object_iter(doc));
    char *want_key = malloc(strlen(name) * 3 + 1);
    if (!want_key)
        abort();
    size_t n_want_key = expect((const uint8_t *)name, strlen(name), want_key);
    if (strlen(key) != n_want_key || memcmp(key, want_key, n_want_key) != 0)
        abort();
    if (json_string_length(v) != n_want || memcmp(json_string_value(v), want, n_want) != 0)
        abort();

    /* fp_json_quote writes the same text the builder wrote for the value. */
    size_t need = fp_json_quote(NULL, 0, val, n_val);
    char *q = malloc(need + 1);
    if (!q || fp_json_quote(q, need + 1, val, n_val) != need)
        abort();
    if (len < need || memcmp(text + len - 1 - need, q, need) != 0)
        abort();

    free(q);
    free(want);
    free(want_key);
    json_decref(doc);
    fp_payload_free(p);
    free(name);
    return 0;
}
