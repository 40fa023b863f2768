/*
 * ua_status_table.h - the generated table of status code names (private to the library).
 */
#ifndef UA_STATUS_TABLE_H
#define UA_STATUS_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ua_status_entry {
    uint32_t code;
    const char *name;
    const char *description;
} ua_status_entry;

/* Sorted by code. */
extern const ua_status_entry ua_status_table[];
extern const size_t ua_status_table_count;

#endif
