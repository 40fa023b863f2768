/*
 * mb_point.c - parsing of Modbus data sources, point types and endpoint addresses.
 *
 * Everything here reads text a user wrote into the registry, so every failure says what was
 * expected and what was found, in words a person acts on ("hr:65535 float32 needs 2
 * registers, only 1 left before the end of the table at 65535"); the connector prefixes the
 * data point's name. Numbers are parsed by hand rather than with strtol, which would accept
 * signs, spaces and overflows that a Modbus address never has.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mb_point.h"

const char *const mb_type_names[] = {"bool",   "int16",   "uint16",  "int32",  "uint32", "int64",
                                     "uint64", "float32", "float64", "string", "bit",    NULL};
const char *const mb_order_names[] = {"ABCD", "CDAB", "BADC", "DCBA", NULL};

/* Registers a type spans (strings: their length). */
static const uint16_t k_type_regs[MB_T_COUNT] = {
    [MB_T_BOOL] = 1,    [MB_T_INT16] = 1,  [MB_T_UINT16] = 1, [MB_T_INT32] = 2,
    [MB_T_UINT32] = 2,  [MB_T_INT64] = 4,  [MB_T_UINT64] = 4, [MB_T_FLOAT32] = 2,
    [MB_T_FLOAT64] = 4, [MB_T_STRING] = 0, [MB_T_BIT] = 1,
};

static const struct {
    const char *name, *shortname;
    char digit; /* the first digit of its Modicon references */
    bool bits, writable;
} k_tables[MB_TABLE_COUNT] = {
    [MB_COILS] = {"coil", "coil", '0', true, true},
    [MB_DISCRETE_INPUTS] = {"discrete input", "di", '1', true, false},
    [MB_INPUT_REGISTERS] = {"input register", "ir", '3', false, false},
    [MB_HOLDING] = {"holding register", "hr", '4', false, true},
};

/* The prefixes a dataSource may start with; `modicon` ones take a reference number. */
static const struct {
    const char *prefix;
    mb_table table;
    bool modicon;
} k_prefixes[] = {
    {"hr", MB_HOLDING, false},
    {"ir", MB_INPUT_REGISTERS, false},
    {"coil", MB_COILS, false},
    {"di", MB_DISCRETE_INPUTS, false},
    {"holding", MB_HOLDING, true},
    {"input", MB_INPUT_REGISTERS, true},
    {"discrete", MB_DISCRETE_INPUTS, true},
    {"coils", MB_COILS, true},
};

const char *mb_table_name(mb_table t)
{
    return (unsigned)t < MB_TABLE_COUNT ? k_tables[t].name : "?";
}

const char *mb_table_short(mb_table t)
{
    return (unsigned)t < MB_TABLE_COUNT ? k_tables[t].shortname : "?";
}

bool mb_table_is_bits(mb_table t)
{
    return (unsigned)t < MB_TABLE_COUNT && k_tables[t].bits;
}

bool mb_table_is_writable(mb_table t)
{
    return (unsigned)t < MB_TABLE_COUNT && k_tables[t].writable;
}

const char *mb_type_name(mb_type t)
{
    return (unsigned)t < MB_T_COUNT ? mb_type_names[t] : "?";
}

/* Decimal digits s[0..n) as a number no greater than max; -1 when they are not. */
static long parse_dec(const char *s, size_t n, long max)
{
    long v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > max)
            return -1;
    }
    return v;
}

/* "0x" hex digits (1..4 after the prefix) or decimal, as a number no greater than max. */
static long parse_number(const char *s, size_t n, long max)
{
    long v = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (size_t i = 2; i < n; i++) {
            char c = s[i];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                return -1;
            v = v * 16 + d;
            if (v > max)
                return -1;
        }
        return v;
    }
    return parse_dec(s, n, max);
}

/* The text s[0..n) for a message, cut and made printable. */
static void shown(char *out, size_t size, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < size; i++)
        out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n > 0 && k + 4 >= size && k >= 3)
        memcpy(out + k - 3, "...", 3);
    out[k] = '\0';
}

int mb_source_parse(const char *src, mb_table *table, uint16_t *address, int *bit, char *err,
                    size_t err_len)
{
    const char *colon = strchr(src, ':');
    const char *num, *dot;
    size_t plen, nlen;
    char what[64];
    long v;
    int i, found = -1;

    *bit = -1;
    if (!colon) {
        shown(what, sizeof what, src, strlen(src));
        snprintf(err, err_len,
                 "dataSource \"%s\" has no table: write hr:0, ir:0, coil:0, di:0 or a reference "
                 "such as holding:40001",
                 what);
        return -1;
    }
    plen = (size_t)(colon - src);
    for (i = 0; i < (int)(sizeof k_prefixes / sizeof k_prefixes[0]); i++)
        if (strlen(k_prefixes[i].prefix) == plen && !strncasecmp(src, k_prefixes[i].prefix, plen))
            found = i;
    if (found < 0) {
        shown(what, sizeof what, src, plen);
        snprintf(err, err_len,
                 "dataSource table \"%s\" is unknown: expected hr, ir, coil, di (0-based "
                 "addresses) or holding, input, discrete, coils (references such as 40001)",
                 what);
        return -1;
    }
    *table = k_prefixes[found].table;
    num = colon + 1;
    dot = strchr(num, '.');
    nlen = dot ? (size_t)(dot - num) : strlen(num);
    if (dot) {
        long b = parse_dec(dot + 1, strlen(dot + 1), 15);
        if (mb_table_is_bits(*table)) {
            snprintf(err, err_len, "dataSource \"%s\": a %s is one bit and has no bit number",
                     k_prefixes[found].prefix, mb_table_name(*table));
            return -1;
        }
        if (b < 0) {
            shown(what, sizeof what, dot + 1, strlen(dot + 1));
            snprintf(err, err_len, "dataSource bit \"%s\" is not a bit number 0..15", what);
            return -1;
        }
        *bit = (int)b;
    }
    if (!k_prefixes[found].modicon) {
        v = parse_number(num, nlen, 65535);
        if (v < 0) {
            shown(what, sizeof what, num, nlen);
            snprintf(err, err_len, "%s address \"%s\" is not a number 0..65535 (decimal or 0x hex)",
                     k_prefixes[found].prefix, what);
            return -1;
        }
        *address = (uint16_t)v;
        return 0;
    }
    /* A Modicon reference: the table's digit, then the 1-based register number in 4 digits
     * (to 9999) or 5 digits (to 65536). */
    char digit = k_tables[*table].digit;
    if ((nlen == 5 || nlen == 6) && num[0] == digit) {
        v = parse_dec(num + 1, nlen - 1, 65536);
        if (v >= 1 && (nlen == 6 || v <= 9999)) {
            *address = (uint16_t)(v - 1);
            return 0;
        }
    }
    shown(what, sizeof what, num, nlen);
    snprintf(err, err_len,
             "%s reference \"%s\" is not %c0001..%c9999 or %c00001..%c65536 (for a 0-based "
             "address write %s:N)",
             k_prefixes[found].prefix, what, digit, digit, digit, digit,
             k_tables[*table].shortname);
    return -1;
}

/* Index of name in a NULL-terminated list (case-insensitive), or -1. */
static int lookup(const char *const *names, const char *name)
{
    for (int i = 0; names[i]; i++)
        if (!strcasecmp(names[i], name))
            return i;
    return -1;
}

/* "a", "b" or "c" of a NULL-terminated list, for messages. */
static void list_text(char *out, size_t size, const char *const *names)
{
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; names[i] && k < size; i++) {
        const char *sep = i == 0 ? "" : names[i + 1] ? ", " : " or ";
        int n = snprintf(out + k, size - k, "%s%s", sep, names[i]);
        if (n < 0)
            break;
        k += (size_t)n;
    }
}

int mb_point_parse(const char *src, const char *type, const char *order, int64_t length,
                   int64_t bit, double scale, double offset, mb_point *out, char *err,
                   size_t err_len)
{
    char what[64], list[128];
    int src_bit, t, o = MB_ABCD;

    memset(out, 0, sizeof *out);
    if (mb_source_parse(src, &out->table, &out->address, &src_bit, err, err_len))
        return -1;
    bool bits = mb_table_is_bits(out->table);
    if (type && *type) {
        t = lookup(mb_type_names, type);
        if (t < 0) {
            shown(what, sizeof what, type, strlen(type));
            list_text(list, sizeof list, mb_type_names);
            snprintf(err, err_len, "type \"%s\" is unknown: expected %s", what, list);
            return -1;
        }
    } else {
        t = bits ? MB_T_BOOL : src_bit >= 0 ? MB_T_BIT : MB_T_UINT16;
    }
    if (order && *order) {
        o = lookup(mb_order_names, order);
        if (o < 0) {
            shown(what, sizeof what, order, strlen(order));
            list_text(list, sizeof list, mb_order_names);
            snprintf(err, err_len, "order \"%s\" is not a byte order: expected %s", what, list);
            return -1;
        }
    }
    out->type = (mb_type)t;
    out->order = (mb_order)o;
    out->scale = scale;
    out->offset = offset;
    out->bit = -1;
    if (bits && t != MB_T_BOOL) {
        snprintf(err, err_len, "a %s holds one bit: its type is bool, not %s",
                 mb_table_name(out->table), mb_type_names[t]);
        return -1;
    }
    if (t == MB_T_BIT) {
        if (src_bit >= 0 && bit >= 0 && bit != src_bit) {
            snprintf(err, err_len, "bit %lld disagrees with the dataSource's bit %d",
                     (long long)bit, src_bit);
            return -1;
        }
        out->bit = src_bit >= 0 ? src_bit : (int)bit;
        if (out->bit < 0 || out->bit > 15) {
            snprintf(err, err_len,
                     "type bit needs a bit number 0..15 (\"bit\" or dataSource "
                     "hr:N.B)");
            return -1;
        }
    } else if (src_bit >= 0) {
        snprintf(err, err_len, "the dataSource names bit %d but the type is %s, not bit", src_bit,
                 mb_type_names[t]);
        return -1;
    }
    if (t == MB_T_STRING) {
        if (length < 1 || length > MB_MAX_STRING_REGS) {
            snprintf(err, err_len, "type string needs a length of 1..%d registers, not %lld",
                     MB_MAX_STRING_REGS, (long long)length);
            return -1;
        }
        out->count = (uint16_t)length;
    } else {
        out->count = k_type_regs[t];
    }
    if ((uint32_t)out->address + out->count - 1 > 65535) {
        snprintf(err, err_len,
                 "%s:%u %s needs %u registers, only %u left before the end of the table at "
                 "65535",
                 mb_table_short(out->table), (unsigned)out->address, mb_type_names[t],
                 (unsigned)out->count, (unsigned)(65536 - out->address));
        return -1;
    }
    if (!(scale == scale) || !(offset == offset) || scale == 0 || scale > 1e300 || scale < -1e300 ||
        offset > 1e300 || offset < -1e300) {
        snprintf(err, err_len, "scale must be a finite number other than 0 and offset finite");
        return -1;
    }
    return 0;
}

/* ---- endpoint addresses -------------------------------------------------------------- */

/* One query parameter value as an integer in [lo, hi]; -1 when it is not. */
static long query_int(const char *v, size_t n, long lo, long hi)
{
    long x = parse_dec(v, n, hi);
    return x < lo ? -1 : x;
}

static int parse_rtu(const char *rest, mb_address *out, char *err, size_t err_len)
{
    const char *q = strchr(rest, '?');
    size_t plen = q ? (size_t)(q - rest) : strlen(rest);
    char what[64];

    if (plen == 0 || rest[0] != '/' || plen >= sizeof out->device) {
        snprintf(err, err_len,
                 "modbus-rtu address needs a device path: modbus-rtu:///dev/ttyUSB0?baud=19200");
        return -1;
    }
    memcpy(out->device, rest, plen);
    out->device[plen] = '\0';
    while (q && *q) {
        const char *key = q + 1, *amp = strchr(key, '&'), *eq;
        size_t len = amp ? (size_t)(amp - key) : strlen(key);
        q = amp;
        if (len == 0)
            continue;
        eq = memchr(key, '=', len);
        size_t klen = eq ? (size_t)(eq - key) : len;
        const char *val = eq ? eq + 1 : key + len;
        size_t vlen = eq ? len - klen - 1 : 0;
        long x;
        if (klen == 4 && !strncmp(key, "baud", 4)) {
            if ((x = query_int(val, vlen, 50, 4000000)) < 0)
                goto bad_value;
            out->baud = (int)x;
        } else if (klen == 6 && !strncmp(key, "parity", 6)) {
            if (vlen != 1 || !strchr("NEOneo", val[0]))
                goto bad_value;
            out->parity = (char)(val[0] & ~0x20);
        } else if (klen == 4 && !strncmp(key, "data", 4)) {
            if ((x = query_int(val, vlen, 5, 8)) < 0)
                goto bad_value;
            out->data_bits = (int)x;
        } else if (klen == 4 && !strncmp(key, "stop", 4)) {
            if ((x = query_int(val, vlen, 1, 2)) < 0)
                goto bad_value;
            out->stop_bits = (int)x;
        } else {
            shown(what, sizeof what, key, klen);
            snprintf(err, err_len,
                     "modbus-rtu address: unknown parameter \"%s\" (baud, parity, data, stop)",
                     what);
            return -1;
        }
        continue;
    bad_value:
        shown(what, sizeof what, key, len);
        snprintf(err, err_len,
                 "modbus-rtu address: \"%s\" is not valid (baud=50..4000000, parity=N|E|O, "
                 "data=5..8, stop=1|2)",
                 what);
        return -1;
    }
    return 0;
}

static int parse_tcp(const char *rest, mb_address *out, char *err, size_t err_len)
{
    const char *end = rest + strcspn(rest, "/?#");
    const char *host = rest, *host_end, *port = NULL;
    char what[64];

    if (*end && !(end[0] == '/' && end[1] == '\0')) {
        shown(what, sizeof what, end, strlen(end));
        snprintf(err, err_len, "modbus-tcp address: unexpected \"%s\" after host and port", what);
        return -1;
    }
    if (*host == '[') {
        host_end = memchr(host, ']', (size_t)(end - host));
        if (!host_end) {
            snprintf(err, err_len, "modbus-tcp address: '[' without ']' around an IPv6 address");
            return -1;
        }
        host++;
        if (host_end + 1 < end) {
            if (host_end[1] != ':')
                goto bad_host;
            port = host_end + 2;
        }
    } else {
        const char *colon = memchr(host, ':', (size_t)(end - host));
        host_end = colon ? colon : end;
        if (colon)
            port = colon + 1;
    }
    if (host_end == host || (size_t)(host_end - host) >= sizeof out->host)
        goto bad_host;
    memcpy(out->host, host, (size_t)(host_end - host));
    out->host[host_end - host] = '\0';
    for (const char *p = out->host; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == '@' || *p == '[' || *p == ']' || *p == 0x7f)
            goto bad_host;
    if (port) {
        long x = parse_dec(port, (size_t)(end - port), 65535);
        if (x < 1) {
            shown(what, sizeof what, port, (size_t)(end - port));
            snprintf(err, err_len, "modbus-tcp address: port \"%s\" is not 1..65535", what);
            return -1;
        }
        out->port = (int)x;
    }
    return 0;

bad_host:
    snprintf(err, err_len, "modbus-tcp address needs a host: modbus-tcp://192.168.1.10:502");
    return -1;
}

int mb_address_parse(const char *s, mb_address *out, char *err, size_t err_len)
{
    static const char tcp[] = "modbus-tcp://", rtu[] = "modbus-rtu://";
    char what[64];

    memset(out, 0, sizeof *out);
    out->port = 502;
    out->baud = 19200;
    out->parity = 'E';
    out->data_bits = 8;
    out->stop_bits = 1;
    if (!strncasecmp(s, tcp, sizeof tcp - 1))
        return parse_tcp(s + sizeof tcp - 1, out, err, err_len);
    if (!strncasecmp(s, rtu, sizeof rtu - 1)) {
        out->rtu = true;
        return parse_rtu(s + sizeof rtu - 1, out, err, err_len);
    }
    shown(what, sizeof what, s, strlen(s));
    snprintf(err, err_len,
             "address \"%s\" is not modbus-tcp://host:port or modbus-rtu:///dev/ttyX?baud=19200",
             what);
    return -1;
}
