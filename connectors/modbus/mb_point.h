/*
 * mb_point.h - what a Modbus data point and a Modbus endpoint address say, parsed.
 *
 * Pure functions over text, without I/O and without libmodbus, so that unit tests and the
 * fuzz harness (tests/fuzz/fuzz_modbus_point.c) reach every branch. The connector
 * (modbus.c) calls them when a dataset, an action or an endpoint is added, and reports the
 * message they write, prefixed with the data point's name, as a configuration error.
 *
 * A data point is a table and an address (its dataSource), a type that says how many
 * registers it spans and how to read them, a byte and word order, and a linear scale
 * (value = raw * scale + offset). The forms are documented in docs/connector-modbus.md.
 */
#ifndef FP_MB_POINT_H
#define FP_MB_POINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The four tables of the Modbus data model. */
typedef enum mb_table { MB_COILS = 0, MB_DISCRETE_INPUTS, MB_INPUT_REGISTERS, MB_HOLDING } mb_table;
#define MB_TABLE_COUNT 4

typedef enum mb_type {
    MB_T_BOOL = 0,
    MB_T_INT16,
    MB_T_UINT16,
    MB_T_INT32,
    MB_T_UINT32,
    MB_T_INT64,
    MB_T_UINT64,
    MB_T_FLOAT32,
    MB_T_FLOAT64,
    MB_T_STRING,
    MB_T_BIT,
    MB_T_COUNT
} mb_type;

/* Byte and word order, named by where the bytes A (most significant) .. D land. ABCD is the
 * protocol's own big-endian order; CDAB swaps the 16-bit words, BADC the bytes inside each
 * word, DCBA both. For 64-bit types the same rule applies to four words. */
typedef enum mb_order { MB_ABCD = 0, MB_CDAB, MB_BADC, MB_DCBA } mb_order;

/* The most registers a string may span: one read request (125 registers) holds it. */
#define MB_MAX_STRING_REGS 125
/* The protocol's limits per request (Modbus application protocol 1.1b3, 6.1 to 6.4). */
#define MB_MAX_READ_REGS 125
#define MB_MAX_READ_BITS 2000
#define MB_MAX_WRITE_REGS 123 /* function 16 */

typedef struct mb_point {
    mb_table table;
    uint16_t address; /* protocol address, 0-based */
    uint16_t count;   /* registers it spans (bit tables: 1) */
    mb_type type;
    mb_order order;
    int bit;      /* MB_T_BIT: 0 (least significant) .. 15 */
    double scale; /* numeric types: value = raw * scale + offset */
    double offset;
} mb_point;

/* NULL-terminated names, for the configuration rows' choices and the checks (one list). */
extern const char *const mb_type_names[];
extern const char *const mb_order_names[];

const char *mb_table_name(mb_table t);  /* "coil", "discrete input", ... for messages */
const char *mb_table_short(mb_table t); /* "coil", "di", "ir", "hr": the dataSource prefix */
bool mb_table_is_bits(mb_table t);
bool mb_table_is_writable(mb_table t);
const char *mb_type_name(mb_type t);

/* Parse a dataSource: "hr:0", "ir:0x10", "coil:7", "di:0" (0-based protocol addresses,
 * decimal or 0x hex), or a Modicon reference "holding:40001", "input:30001",
 * "discrete:10001", "coils:00001" (5 digits up to 9999, or 6 digits up to 65536, the first
 * digit naming the table). A register source may end in ".N" (0..15): bit N of the register.
 * Table names are case-insensitive. Returns 0, or -1 with err saying what is wrong. */
int mb_source_parse(const char *src, mb_table *table, uint16_t *address, int *bit, char *err,
                    size_t err_len);

/* Everything about one point: its dataSource, and the type ("bool" ... "bit", NULL or "" for
 * the table's default: bool for coils and discrete inputs, uint16 for registers), order (NULL
 * or "" for ABCD; case-insensitive), length (registers of a string, 1..125; 0 when unset),
 * bit (0..15 for type bit; -1 when unset) and scale and offset. A type that runs past
 * address 65535, a type the table cannot hold (a float in a coil), a string without a
 * length, an unknown order are errors. Returns 0, or -1 with err. */
int mb_point_parse(const char *src, const char *type, const char *order, int64_t length,
                   int64_t bit, double scale, double offset, mb_point *out, char *err,
                   size_t err_len);

/* ---- endpoint addresses -------------------------------------------------------------- */

typedef struct mb_address {
    bool rtu;
    char host[256];   /* TCP: a host name or an IP address (IPv6 without the brackets) */
    int port;         /* TCP: 1..65535, default 502 */
    char device[256]; /* RTU: the serial device path */
    int baud;         /* RTU: default 19200 */
    char parity;      /* RTU: 'N', 'E' (default) or 'O' */
    int data_bits;    /* RTU: 5..8, default 8 */
    int stop_bits;    /* RTU: 1 or 2, default 1 */
} mb_address;

/* Parse "modbus-tcp://host[:port]" or
 * "modbus-rtu:///dev/ttyUSB0[?baud=19200&parity=E&data=8&stop=1]". Returns 0, or -1 with err. */
int mb_address_parse(const char *s, mb_address *out, char *err, size_t err_len);

#endif
