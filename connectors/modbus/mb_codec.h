/*
 * mb_codec.h - Modbus registers to JSON values and back.
 *
 * A point's registers (as the protocol carries them, 16-bit words in wire order) become
 * one JSON value by the point's type, byte and word order and linear scale; a JSON value
 * of a write request becomes the registers (or the bit) that hold it. Pure code, tested in
 * tests/unit/test_modbus_codec.c; the glue (modbus.c) reads and writes with libmodbus.
 */
#ifndef FP_MB_CODEC_H
#define FP_MB_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <fieldplane/fp_buf.h>
#include "mb_point.h"

/* Append the JSON value of point p to out. Register tables: regs holds p->count registers
 * from p->address; bit tables: bits[0] is the point's bit (0 or 1). With raw, the value is
 * written as {"Value": v, "Raw": [r0, ...]} (the registers as read, or [bit]). Integers
 * without scale and offset are written as integers, float32 in the shortest form that reads
 * back as the same float32, NaN and infinities as null. Returns out->err. */
fp_status mb_value_json(const mb_point *p, const uint16_t *regs, const uint8_t *bits, bool raw,
                        fp_buf *out);

/* The words of a value of `n` registers in the point's order: bytes[0..2n) most significant
 * first become regs[0..n) as the wire carries them (and the same function goes back, since
 * each order is its own inverse). */
void mb_order_words(mb_order order, const uint8_t *bytes, unsigned n, uint16_t *regs);
/* The inverse view: regs in wire order to the value's bytes, most significant first. */
void mb_order_bytes(mb_order order, const uint16_t *regs, unsigned n, uint8_t *bytes);

/* What a write of v to point p puts on the wire: p->count registers in regs, or for a bit
 * table and type bit the bit in *bit. The value is (v - offset) / scale, rounded to the
 * nearest integer for integer types; a value out of the type's range, a string longer than
 * the registers, a non-boolean for a bit are errors (err says which). Returns 0 or -1. */
int mb_value_encode(const mb_point *p, const json_t *v, uint16_t *regs, uint8_t *bit, char *err,
                    size_t err_len);

/* The name of a Modbus exception code ("IllegalDataAddress" for 2), NULL when it has none. */
const char *mb_exception_name(int code);

#endif
