/*
 * mb_plan.h - the read requests of a dataset: its points grouped into as few as the
 * protocol allows.
 *
 * A Modbus read asks for a range of one table of one unit: at most 125 registers
 * (functions 3 and 4) or 2000 bits (functions 1 and 2). The points of a dataset are sorted
 * by unit, table and address and merged into ranges while the range stays within the limit
 * and the hole between two points is no larger than the gap allowed (reading a few unused
 * registers costs less than another round trip, but some devices refuse addresses they do
 * not map, so the gap is configurable and 0 reads only what the points name). Points may
 * overlap (two views of the same registers). Pure code: unit tests in
 * tests/unit/test_modbus_plan.c.
 */
#ifndef FP_MB_PLAN_H
#define FP_MB_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "mb_point.h"

/* What one point needs read. */
typedef struct mb_span {
    uint8_t unit;
    mb_table table;
    uint16_t address;
    uint16_t count; /* registers, or bits */
} mb_span;

typedef struct mb_limits {
    uint16_t max_regs; /* per request, 1..125 */
    uint16_t max_bits; /* per request, 1..2000 */
    uint16_t gap_regs; /* the most unused registers bridged inside one request */
    uint16_t gap_bits; /* the same for bits */
} mb_limits;

/* One request: a range and the spans it serves (plan->members[first .. first + n)). */
typedef struct mb_request {
    uint8_t unit;
    mb_table table;
    uint16_t address;
    uint16_t count;
    size_t first, n;
} mb_request;

typedef struct mb_plan {
    mb_request *reqs;
    size_t n_reqs;
    size_t *members; /* span indices, request by request */
    size_t n_members;
} mb_plan;

/* Group spans[0..n) into requests. Every span must fit one request (count within the
 * limits; mb_point_parse keeps strings to 125 registers); a span that does not is made a
 * request of its own anyway and left to fail at the device. Returns 0, or -1 when out of
 * memory (plan empty). */
int mb_plan_build(const mb_span *spans, size_t n, const mb_limits *lim, mb_plan *plan);
void mb_plan_clear(mb_plan *plan);

#endif
