/*
 * fp_json.c - small helpers around jansson (see fp_json.h).
 */
#include "fp_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fp_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

size_t fp_utf8_seq_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

void fp_json_escape(const char *z, size_t n, void (*put)(void *ctx, const void *b, size_t len),
                    void *ctx)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)z;
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        char esc[8];
        size_t esc_len = 0, adv = 1;
        if (c >= 0x80) {
            adv = fp_utf8_seq_len(p + i, n - i);
            if (adv > 0) {
                i += adv;
                continue;
            }
            adv = 1;
            memcpy(esc, "\xEF\xBF\xBD", 3); /* U+FFFD */
            esc_len = 3;
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            esc_len = 2;
        } else if (c < 0x20) {
            esc[0] = '\\';
            esc_len = 2;
            switch (c) {
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            default:
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                esc_len = 6;
            }
        } else {
            i++;
            continue;
        }
        if (i > run)
            put(ctx, p + run, i - run);
        put(ctx, esc, esc_len);
        i += adv;
        run = i;
    }
    if (n > run)
        put(ctx, p + run, n - run);
}

static void put_buf(void *ctx, const void *b, size_t len)
{
    fp_buf_append(ctx, b, len);
}

/* True when p[0..n) is printable ASCII without '"' and '\\': written as it is. */
static bool plain_ascii(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return false;
    }
    return true;
}

fp_status fp_json_quote_buf(fp_buf *b, const char *p, size_t n)
{
    /* Names and most values are plain: one copy with the quotes instead of a walk. */
    char small[128];
    if (n + 2 <= sizeof small && plain_ascii(p, n)) {
        small[0] = '"';
        memcpy(small + 1, p, n);
        small[n + 1] = '"';
        return fp_buf_append(b, small, n + 2);
    }
    fp_buf_append(b, "\"", 1);
    fp_json_escape(p, n, put_buf, b);
    fp_buf_append(b, "\"", 1);
    return b->err;
}

size_t fp_real_text(char out[FP_REAL_TEXT_LEN], double v, bool is_float)
{
    int n = 0;

    if (isnan(v))
        return (size_t)snprintf(out, FP_REAL_TEXT_LEN, "NaN");
    if (isinf(v))
        return (size_t)snprintf(out, FP_REAL_TEXT_LEN, v < 0 ? "-Infinity" : "Infinity");
    /* Integral values below 10^6 (float) or 10^15 (double), the common case of counters and
     * setpoints, print as their digits: exactly what %.6g / %.15g print for them, at a
     * fraction of the cost of snprintf + strtod. -0 keeps the general path ("-0"). */
    double lim = is_float ? 1e6 : 1e15;
    if (v > -lim && v < lim && v == (double)(int64_t)v && !(v == 0 && signbit(v))) {
        char digits[24];
        int64_t i = (int64_t)v;
        uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
        int k = (int)sizeof digits;
        do {
            digits[--k] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (i < 0)
            digits[--k] = '-';
        n = (int)sizeof digits - k;
        memcpy(out, digits + k, (size_t)n);
        out[n] = '\0';
        return (size_t)n;
    }
    /* From the precision that always suffices for short decimals (6 for a float, 15 for a
     * double: %g drops the trailing zeros) up to the one that always reads back (9, 17). */
    for (int prec = is_float ? 6 : 15; prec <= (is_float ? 9 : 17); prec++) {
        n = snprintf(out, FP_REAL_TEXT_LEN, "%.*g", prec, v);
        if (is_float ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v)
            break;
    }
    return (size_t)n;
}

/* The shortest form of v that reads back as v (as a float with is_float), kept recognisable
 * as a real; null when not finite. */
static fp_status dump_real(fp_buf *out, double v, bool is_float)
{
    char num[FP_REAL_TEXT_LEN];
    size_t n;

    if (!isfinite(v))
        return fp_buf_append(out, "null", 4);
    n = fp_real_text(num, v, is_float);
    fp_buf_append(out, num, n);
    if (!strpbrk(num, ".eEni"))
        fp_buf_append(out, ".0", 2);
    return out->err;
}

fp_status fp_json_dump_real(fp_buf *out, double d)
{
    return dump_real(out, d, false);
}

/* The same for a single-precision value: the shortest text that reads back as the same
 * float (1.1f is "1.1", not the double 1.100000023841858), for protocols that carry
 * float32 (Modbus registers). */
fp_status fp_json_dump_real32(fp_buf *out, float f)
{
    return dump_real(out, f, true);
}

fp_status fp_json_dump_compact(fp_buf *out, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *m;
        bool first = true;
        fp_buf_append(out, "{", 1);
        json_object_foreach((json_t *)v, key, m)
        {
            if (!first)
                fp_buf_append(out, ",", 1);
            first = false;
            fp_json_quote_buf(out, key, strlen(key));
            fp_buf_append(out, ":", 1);
            fp_json_dump_compact(out, m);
        }
        fp_buf_append(out, "}", 1);
        break;
    }
    case JSON_ARRAY:
        fp_buf_append(out, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                fp_buf_append(out, ",", 1);
            fp_json_dump_compact(out, json_array_get(v, i));
        }
        fp_buf_append(out, "]", 1);
        break;
    case JSON_STRING:
        fp_json_quote_buf(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        fp_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        fp_json_dump_real(out, json_real_value(v));
        break;
    case JSON_TRUE:
        fp_buf_append(out, "true", 4);
        break;
    case JSON_FALSE:
        fp_buf_append(out, "false", 5);
        break;
    default:
        fp_buf_append(out, "null", 4);
    }
    return out->err;
}
