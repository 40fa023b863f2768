/*
 * fuzz_modbus_point.c - libFuzzer harness for the Modbus connector's configuration parsers.
 *
 * The input is two bytes (a string length and a bit number, as the configuration rows
 * would give them), then lines: a dataSource, a type, a byte order, and an endpoint
 * address. A point that parses must fit the table (its registers end at 65535 or before),
 * have the register count of its type, and re-parse from its canonical "hr:N" form to the
 * same table and address; its value, decoded from registers taken from the input, must be
 * valid JSON, and that value must encode back to the same registers for the types where
 * the codec is exact. A failure must come with a message. An address that parses must be
 * TCP with a host and a port, or RTU with a device path.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb_codec.h"
#include "mb_point.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of [*p, end) as a NUL-terminated copy in out. */
static void next_line(const char **p, const char *end, char *out, size_t size)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    if (n >= size)
        n = size - 1;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p = nl ? nl + 1 : end;
}

static void check_point(const mb_point *pt, const uint8_t *data, size_t size)
{
    static const uint16_t regs_of[MB_T_COUNT] = {1, 1, 1, 2, 2, 4, 4, 2, 4, 0, 1};
    char canon[32], err[512];
    mb_table t;
    uint16_t addr;
    int bit;

    if ((uint32_t)pt->address + pt->count > 65536 || pt->count == 0)
        abort();
    if (pt->type != MB_T_STRING && pt->count != regs_of[pt->type])
        abort();
    if (pt->type == MB_T_STRING && pt->count > MB_MAX_STRING_REGS)
        abort();
    if (mb_table_is_bits(pt->table) && pt->type != MB_T_BOOL)
        abort();
    if (pt->type == MB_T_BIT && (pt->bit < 0 || pt->bit > 15))
        abort();
    snprintf(canon, sizeof canon, "%s:%u", mb_table_short(pt->table), (unsigned)pt->address);
    if (mb_source_parse(canon, &t, &addr, &bit, err, sizeof err) || t != pt->table ||
        addr != pt->address || bit != -1)
        abort();

    /* Registers from the input, decoded: valid JSON. */
    uint16_t regs[MB_MAX_STRING_REGS] = {0};
    for (size_t i = 0; i < pt->count && 2 * i + 1 < size; i++)
        regs[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
    uint8_t b = regs[0] & 1;
    fp_buf out;
    fp_buf_init(&out, 1u << 16);
    if (mb_value_json(pt, regs, &b, size & 1, &out) != FP_OK)
        abort();
    json_t *v = json_loadb(out.data, out.len, JSON_DECODE_ANY, NULL);
    if (!v && pt->type == MB_T_UINT64) /* beyond jansson's integers, still a JSON number */
        v = json_loadb(out.data, out.len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
    if (!v)
        abort();
    /* Integers without scale are exact both ways. */
    if (!(size & 1) && pt->scale == 1.0 && pt->offset == 0.0 && json_is_integer(v) &&
        pt->type != MB_T_UINT64) {
        uint16_t back[MB_MAX_STRING_REGS];
        uint8_t bb;
        if (mb_value_encode(pt, v, back, &bb, err, sizeof err) ||
            memcmp(back, regs, pt->count * sizeof *regs))
            abort();
    }
    json_decref(v);
    fp_buf_clear(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char src[256], type[64], order[64], address[512], err[512];
    mb_point pt;
    mb_address a;

    if (size < 2)
        return 0;
    int64_t length = data[0] % 130;
    int64_t bit = (int64_t)(data[1] % 18) - 1;
    const char *p = (const char *)data + 2, *end = (const char *)data + size;
    next_line(&p, end, src, sizeof src);
    next_line(&p, end, type, sizeof type);
    next_line(&p, end, order, sizeof order);
    next_line(&p, end, address, sizeof address);

    err[0] = '\0';
    double scale = (data[0] & 0x80) ? 0.5 : 1.0;
    if (mb_point_parse(src, type, order, length, bit, scale, 0.0, &pt, err, sizeof err) == 0)
        check_point(&pt, data, size);
    else if (!err[0])
        abort();

    err[0] = '\0';
    if (mb_address_parse(address, &a, err, sizeof err) == 0) {
        if (a.rtu ? a.device[0] != '/' : (!a.host[0] || a.port < 1 || a.port > 65535))
            abort();
    } else if (!err[0]) {
        abort();
    }
    return 0;
}
