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

/* The shortest "%.*g" form of d that reads back as d, kept recognisable as a real. */
fp_status fp_json_dump_real(fp_buf *out, double d)
{
    char num[40];

    if (!isfinite(d))
        return fp_buf_append(out, "null", 4);
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, d);
        if (strtod(num, NULL) == d)
            break;
    }
    fp_buf_append_str(out, num);
    if (!strpbrk(num, ".eEni"))
        fp_buf_append(out, ".0", 2);
    return out->err;
}

/* The same for a single-precision value: the shortest text that reads back as the same
 * float (1.1f is "1.1", not the double 1.100000023841858), for protocols that carry
 * float32 (Modbus registers). */
fp_status fp_json_dump_real32(fp_buf *out, float f)
{
    char num[40];

    if (!isfinite(f))
        return fp_buf_append(out, "null", 4);
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, (double)f);
        if (strtof(num, NULL) == f)
            break;
    }
    fp_buf_append_str(out, num);
    if (!strpbrk(num, ".eEni"))
        fp_buf_append(out, ".0", 2);
    return out->err;
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
