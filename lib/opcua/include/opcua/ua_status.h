/*
 * ua_status.h - OPC UA status codes: the type, the constants and their names.
 *
 * Every function of libfieldplane-opcua that can fail returns a ua_status, a 32-bit OPC UA
 * StatusCode (OPC 10000-4 7.39): the top two bits say Good (00), Uncertain (01) or Bad (10),
 * the next 14 the code; the low 16 bits are info bits. The UA_STATUS_* constants are
 * generated from the specification's StatusCode.csv (ua_statuscodes.h).
 */
#ifndef UA_STATUS_H
#define UA_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "opcua/ua_statuscodes.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t ua_status;

static inline bool ua_status_is_good(ua_status s)
{
    return (s & 0xC0000000u) == 0;
}
static inline bool ua_status_is_uncertain(ua_status s)
{
    return (s & 0xC0000000u) == 0x40000000u;
}
static inline bool ua_status_is_bad(ua_status s)
{
    return (s & 0x80000000u) != 0;
}

/* The symbolic name of a status code ("BadNodeIdUnknown"), looked up without its info
 * bits (the low 16). Unknown codes give "Good", "Uncertain" or "Bad" by their severity.
 * The string is static. */
const char *ua_status_name(ua_status s);

/* The specification's one-line description of a status code, or "" when unknown.
 * The string is static. */
const char *ua_status_description(ua_status s);

/* The code whose name is `name` (exact, case-sensitive); false when there is none. */
bool ua_status_from_name(const char *name, ua_status *out);

#ifdef __cplusplus
}
#endif

#endif
