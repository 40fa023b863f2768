/*
 * mb_codec.c - Modbus registers to JSON values and back (see mb_codec.h).
 *
 * Every multi-register type goes through one byte array, most significant byte first, so
 * that the four orders are two independent swaps (the words' order, the bytes inside each
 * word) written once, and decoding and encoding share them. Integers are assembled as
 * uint64_t and sign-extended from their width; floats are the same bits read through
 * memcpy, which is the defined way to reinterpret them in C.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <fieldplane/fp_json.h>
#include "mb_codec.h"

static bool swaps_words(mb_order o)
{
    return o == MB_CDAB || o == MB_DCBA;
}

static bool swaps_bytes(mb_order o)
{
    return o == MB_BADC || o == MB_DCBA;
}

void mb_order_words(mb_order order, const uint8_t *bytes, unsigned n, uint16_t *regs)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned w = swaps_words(order) ? n - 1 - i : i;
        uint8_t hi = bytes[2 * w], lo = bytes[2 * w + 1];
        regs[i] = swaps_bytes(order) ? (uint16_t)(lo << 8 | hi) : (uint16_t)(hi << 8 | lo);
    }
}

void mb_order_bytes(mb_order order, const uint16_t *regs, unsigned n, uint8_t *bytes)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned w = swaps_words(order) ? n - 1 - i : i;
        uint16_t r = regs[i];
        if (swaps_bytes(order))
            r = (uint16_t)(r << 8 | r >> 8);
        bytes[2 * w] = (uint8_t)(r >> 8);
        bytes[2 * w + 1] = (uint8_t)r;
    }
}

/* The value's bits, most significant first, as an unsigned number of 16 * n bits. */
static uint64_t assemble(const mb_point *p, const uint16_t *regs, unsigned n)
{
    uint8_t bytes[8];
    uint64_t u = 0;
    mb_order_bytes(p->order, regs, n, bytes);
    for (unsigned i = 0; i < 2 * n; i++)
        u = u << 8 | bytes[i];
    return u;
}

static bool scaled(const mb_point *p)
{
    return p->scale != 1.0 || p->offset != 0.0;
}

/* An integer raw value, scaled when the point says so. */
static fp_status put_int(const mb_point *p, fp_buf *out, int64_t i, uint64_t u, bool is_unsigned)
{
    if (scaled(p))
        return fp_json_dump_real(out, (is_unsigned ? (double)u : (double)i) * p->scale + p->offset);
    return is_unsigned ? fp_buf_printf(out, "%" PRIu64, u) : fp_buf_printf(out, "%" PRId64, i);
}

static fp_status put_string(const mb_point *p, const uint16_t *regs, fp_buf *out)
{
    char text[2 * MB_MAX_STRING_REGS];
    size_t len = 0;
    /* Strings keep the registers' order; only the bytes inside a register may swap. */
    for (unsigned i = 0; i < p->count && i < MB_MAX_STRING_REGS; i++) {
        uint16_t r = regs[i];
        bool sw = swaps_bytes(p->order);
        text[len++] = (char)(sw ? r & 0xff : r >> 8);
        text[len++] = (char)(sw ? r >> 8 : r & 0xff);
    }
    /* A device pads with NULs (or ends the text with one). */
    size_t end = 0;
    while (end < len && text[end] != '\0')
        end++;
    return fp_json_quote_buf(out, text, end);
}

static fp_status put_value(const mb_point *p, const uint16_t *regs, const uint8_t *bits,
                           fp_buf *out)
{
    uint64_t u;
    if (mb_table_is_bits(p->table))
        return fp_buf_append_str(out, bits[0] ? "true" : "false");
    switch (p->type) {
    case MB_T_BOOL:
        return fp_buf_append_str(out, regs[0] ? "true" : "false");
    case MB_T_BIT:
        return fp_buf_append_str(out, (regs[0] >> p->bit) & 1 ? "true" : "false");
    case MB_T_INT16:
        return put_int(p, out, (int16_t)assemble(p, regs, 1), 0, false);
    case MB_T_UINT16:
        return put_int(p, out, 0, assemble(p, regs, 1), true);
    case MB_T_INT32:
        return put_int(p, out, (int32_t)(uint32_t)assemble(p, regs, 2), 0, false);
    case MB_T_UINT32:
        return put_int(p, out, 0, assemble(p, regs, 2), true);
    case MB_T_INT64:
        return put_int(p, out, (int64_t)assemble(p, regs, 4), 0, false);
    case MB_T_UINT64:
        return put_int(p, out, 0, assemble(p, regs, 4), true);
    case MB_T_FLOAT32: {
        uint32_t b = (uint32_t)assemble(p, regs, 2);
        float f;
        memcpy(&f, &b, sizeof f);
        if (scaled(p))
            return fp_json_dump_real(out, (double)f * p->scale + p->offset);
        return fp_json_dump_real32(out, f);
    }
    case MB_T_FLOAT64: {
        double d;
        u = assemble(p, regs, 4);
        memcpy(&d, &u, sizeof d);
        return fp_json_dump_real(out, scaled(p) ? d * p->scale + p->offset : d);
    }
    case MB_T_STRING:
        return put_string(p, regs, out);
    default:
        return fp_buf_append_str(out, "null");
    }
}

fp_status mb_value_json(const mb_point *p, const uint16_t *regs, const uint8_t *bits, bool raw,
                        fp_buf *out)
{
    if (!raw)
        return put_value(p, regs, bits, out);
    fp_buf_append_str(out, "{\"Value\":");
    put_value(p, regs, bits, out);
    fp_buf_append_str(out, ",\"Raw\":[");
    if (mb_table_is_bits(p->table)) {
        fp_buf_append_str(out, bits[0] ? "1" : "0");
    } else {
        for (unsigned i = 0; i < p->count; i++)
            fp_buf_printf(out, "%s%u", i ? "," : "", (unsigned)regs[i]);
    }
    return fp_buf_append_str(out, "]}");
}

/* ---- writes ---------------------------------------------------------------------------- */

/* Registers of the value's bytes (most significant first) in the point's order. */
static void spread(const mb_point *p, uint64_t u, unsigned n, uint16_t *regs)
{
    uint8_t bytes[8];
    for (unsigned i = 0; i < 2 * n; i++)
        bytes[i] = (uint8_t)(u >> (8 * (2 * n - 1 - i)));
    mb_order_words(p->order, bytes, n, regs);
}

/* v as a boolean: true/false, or the integers 0 and 1. */
static int as_bool(const json_t *v, bool *b)
{
    if (json_is_boolean(v)) {
        *b = json_is_true(v);
        return 0;
    }
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *b = json_integer_value(v) == 1;
        return 0;
    }
    return -1;
}

int mb_value_encode(const mb_point *p, const json_t *v, uint16_t *regs, uint8_t *bit, char *err,
                    size_t err_len)
{
    static const struct {
        double lo, hi;
    } k_range[MB_T_COUNT] = {
        [MB_T_INT16] = {-32768.0, 32767.0},
        [MB_T_UINT16] = {0.0, 65535.0},
        [MB_T_INT32] = {-2147483648.0, 2147483647.0},
        [MB_T_UINT32] = {0.0, 4294967295.0},
        [MB_T_INT64] = {-9223372036854775808.0, 9223372036854775807.0},
        [MB_T_UINT64] = {0.0, 18446744073709551615.0},
    };
    const char *tn = mb_type_name(p->type);
    bool b;

    if (mb_table_is_bits(p->table) || p->type == MB_T_BIT || p->type == MB_T_BOOL) {
        if (as_bool(v, &b)) {
            snprintf(err, err_len, "a %s value is true or false, not %s", tn, fp_json_kind(v));
            return -1;
        }
        if (mb_table_is_bits(p->table) || p->type == MB_T_BIT)
            *bit = b;
        else
            regs[0] = b;
        return 0;
    }
    if (p->type == MB_T_STRING) {
        const char *s;
        size_t len;
        if (!json_is_string(v)) {
            snprintf(err, err_len, "a string value is a JSON string, not %s", fp_json_kind(v));
            return -1;
        }
        s = json_string_value(v);
        len = json_string_length(v);
        if (len > 2u * p->count || memchr(s, '\0', len)) {
            snprintf(err, err_len, "the string has %zu bytes; %u registers hold at most %u", len,
                     (unsigned)p->count, 2u * p->count);
            return -1;
        }
        for (unsigned i = 0; i < p->count; i++) {
            uint8_t hi = 2 * i < len ? (uint8_t)s[2 * i] : 0;
            uint8_t lo = 2 * i + 1 < len ? (uint8_t)s[2 * i + 1] : 0;
            regs[i] = swaps_bytes(p->order) ? (uint16_t)(lo << 8 | hi) : (uint16_t)(hi << 8 | lo);
        }
        return 0;
    }
    if (!json_is_number(v)) {
        snprintf(err, err_len, "a %s value is a number, not %s", tn, fp_json_kind(v));
        return -1;
    }
    /* Exact integers without scale take the integer path, so int64 keeps all its bits. */
    if (json_is_integer(v) && !scaled(p) && p->type != MB_T_FLOAT32 && p->type != MB_T_FLOAT64) {
        json_int_t i = json_integer_value(v);
        if ((double)i < k_range[p->type].lo || (double)i > k_range[p->type].hi ||
            (p->type == MB_T_INT64 ? false : (i < 0 && k_range[p->type].lo == 0.0))) {
            snprintf(err, err_len, "%lld is out of the range of %s", (long long)i, tn);
            return -1;
        }
        spread(p, (uint64_t)i, p->count, regs);
        return 0;
    }
    double raw = (json_number_value(v) - p->offset) / p->scale;
    if (!isfinite(raw)) {
        snprintf(err, err_len, "the value is not finite after scale and offset");
        return -1;
    }
    if (p->type == MB_T_FLOAT32) {
        float f = (float)raw;
        uint32_t u32;
        if (!isfinite(f)) {
            snprintf(err, err_len, "%g is out of the range of float32", raw);
            return -1;
        }
        memcpy(&u32, &f, sizeof u32);
        spread(p, u32, 2, regs);
        return 0;
    }
    if (p->type == MB_T_FLOAT64) {
        uint64_t u64;
        memcpy(&u64, &raw, sizeof u64);
        spread(p, u64, 4, regs);
        return 0;
    }
    raw = nearbyint(raw);
    /* The range's upper ends of 64 bits are not doubles; < 2^63 / 2^64 is the exact test. */
    if (raw < k_range[p->type].lo || raw > k_range[p->type].hi ||
        (p->type == MB_T_INT64 && raw >= 9223372036854775808.0) ||
        (p->type == MB_T_UINT64 && raw >= 18446744073709551616.0)) {
        snprintf(err, err_len, "%g (raw, after scale and offset) is out of the range of %s", raw,
                 tn);
        return -1;
    }
    uint64_t u = raw < 0 ? (uint64_t)(int64_t)raw : (uint64_t)raw;
    spread(p, u, p->count, regs);
    return 0;
}

const char *mb_exception_name(int code)
{
    /* Modbus application protocol 1.1b3, section 7. */
    static const char *const names[] = {
        [1] = "IllegalFunction",
        [2] = "IllegalDataAddress",
        [3] = "IllegalDataValue",
        [4] = "ServerDeviceFailure",
        [5] = "Acknowledge",
        [6] = "ServerDeviceBusy",
        [7] = "NegativeAcknowledge",
        [8] = "MemoryParityError",
        [10] = "GatewayPathUnavailable",
        [11] = "GatewayTargetDeviceFailedToRespond",
    };
    if (code < 1 || code >= (int)(sizeof names / sizeof names[0]))
        return NULL;
    return names[code];
}
