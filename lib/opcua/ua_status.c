/*
 * ua_status.c - names and descriptions of OPC UA status codes, by binary search in the
 * table generated from StatusCode.csv (gen/ua_statuscodes_gen.c).
 */
#include <string.h>

#include "opcua/ua_status.h"
#include "ua_status_table.h"

static const ua_status_entry *find(ua_status s)
{
    uint32_t code = s & 0xFFFF0000u;
    size_t lo = 0, hi = ua_status_table_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ua_status_table[mid].code < code)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ua_status_table_count && ua_status_table[lo].code == code)
        return &ua_status_table[lo];
    return NULL;
}

const char *ua_status_name(ua_status s)
{
    const ua_status_entry *e = find(s);
    if (e)
        return e->name;
    if (ua_status_is_bad(s))
        return "Bad";
    return ua_status_is_uncertain(s) ? "Uncertain" : "Good";
}

const char *ua_status_description(ua_status s)
{
    const ua_status_entry *e = find(s);
    return e ? e->description : "";
}

bool ua_status_from_name(const char *name, ua_status *out)
{
    for (size_t i = 0; i < ua_status_table_count; i++) {
        if (strcmp(ua_status_table[i].name, name) == 0) {
            *out = ua_status_table[i].code;
            return true;
        }
    }
    return false;
}
