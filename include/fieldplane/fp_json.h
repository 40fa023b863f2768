/*
 * fieldplane/fp_json.h - small helpers around jansson shared by the modules that read JSON
 * (part of the connector SDK), and the
 * one JSON string escaper of the tree (the payload builder, the OPC UA values and every
 * other writer of JSON text by hand use it).
 */
#ifndef FP_JSON_H
#define FP_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fieldplane/fp_buf.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What kind of value v is, for error messages: "an object", "an array", "a string",
 * "a number", "a boolean" or "null". */
const char *fp_json_kind(const json_t *v);

/* Length of the valid UTF-8 sequence at p (n bytes available, n >= 1), 0 when it is not
 * one: overlong forms, surrogates and code points past U+10FFFF are invalid (RFC 3629). */
size_t fp_utf8_seq_len(const uint8_t *p, size_t n);

/* Escape p[0..n) as the inside of a JSON string (RFC 8259), without the quotes: '"', '\\'
 * and control characters escaped, each byte that does not start a valid UTF-8 sequence
 * replaced by U+FFFD, so the text is valid JSON whatever the input. The output goes to
 * put(ctx, bytes, len) in runs (plain runs at once). */
void fp_json_escape(const char *p, size_t n, void (*put)(void *ctx, const void *b, size_t len),
                    void *ctx);
/* Append the escaped text of p[0..n) to b, with its quotes. Returns b's status (FP_OK, or
 * its first failure). */
fp_status fp_json_quote_buf(fp_buf *b, const char *p, size_t n);

/* Append v as compact JSON text to out: object members in document order, strings through
 * fp_json_escape, and each real number in the shortest form that reads back as the same
 * double (21.1 stays "21.1", not "21.100000000000001"), so that a value is published as the
 * device sent it. Returns out->err. */
fp_status fp_json_dump_compact(fp_buf *out, const json_t *v);
/* A buffer of FP_REAL_TEXT_LEN bytes holds any text fp_real_text writes. */
#define FP_REAL_TEXT_LEN 32
/* The shortest text of v that reads back as the same double (is_float: as the same float, for
 * a value that was a float): "21.1", "-3", "1e+100"; non-finite values as "NaN", "Infinity",
 * "-Infinity". Integral values print as their digits without a decimal point. Writes a
 * NUL-terminated text into out and returns its length. The one number formatter of the tree:
 * JSON payloads, OPC UA values in messages and tools, YAML. */
size_t fp_real_text(char out[FP_REAL_TEXT_LEN], double v, bool is_float);
/* One real number as fp_json_dump_compact writes it (non-finite: null). Returns out->err. */
fp_status fp_json_dump_real(fp_buf *out, double d);
/* A float32 in the shortest form that reads back as the same float (non-finite: null). */
fp_status fp_json_dump_real32(fp_buf *out, float f);

#ifdef __cplusplus
}
#endif

#endif
