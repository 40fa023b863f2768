/*
 * fuzz_http_jsonsel.c - libFuzzer harness for the HTTP connector's selectors.
 *
 * The input is a selector, a NUL byte (or a newline when there is no NUL), then a JSON
 * document. The selector is compiled; a malformed one must come with a message. When
 * the document parses, the selector is evaluated: it yields a value of the document or
 * NULL with a message. A selector that compiles is also checked to re-compile from its
 * own text to the same result, and the selected value's compact dump must read back as
 * an equal value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fp_json.h"
#include "fp_alloc.h"
#include "jsonsel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The compact dump of v must parse back to an equal value (reals exactly). */
static void check_dump(const json_t *v)
{
    fp_buf b;
    json_t *back;

    fp_buf_init(&b, 1u << 26);
    if (fp_json_dump_compact(&b, v))
        abort();
    back = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!back || !json_equal((json_t *)v, back))
        abort();
    json_decref(back);
    fp_buf_clear(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = memchr(data, '\0', size);
    size_t sel_len;
    char *sel;
    char err[256];
    fp_jsonsel *s = NULL, *s2 = NULL;
    json_t *doc = NULL;

    if (!sep)
        sep = memchr(data, '\n', size);
    sel_len = sep ? (size_t)(sep - data) : size;
    sel = fp_strndup((const char *)data, sel_len);
    if (!sel)
        return 0;
    err[0] = 'x';
    if (fp_jsonsel_compile(sel, &s, err, sizeof err) != FP_OK) {
        if (s || !err[0])
            abort();
        goto out;
    }
    if (strcmp(fp_jsonsel_text(s), sel))
        abort();
    if (sep)
        doc = json_loadb((const char *)sep + 1, size - sel_len - 1,
                         JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (doc) {
        json_t *v = fp_jsonsel_eval(s, doc, err, sizeof err);
        json_t *v2;
        if (!v && !err[0])
            abort();
        if (fp_jsonsel_compile(sel, &s2, err, sizeof err) != FP_OK)
            abort();
        v2 = fp_jsonsel_eval(s2, doc, err, sizeof err);
        if (v != v2)
            abort();
        if (v)
            check_dump(v);
    }
out:
    json_decref(doc);
    fp_jsonsel_free(s);
    fp_jsonsel_free(s2);
    fp_free(sel);
    return 0;
}
