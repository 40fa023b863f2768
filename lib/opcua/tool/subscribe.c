/*
 * subscribe.c - the subscribe command of fieldplane-opcua: one line per data change.
 */
#include <signal.h>
#include <stdio.h>

#include "tool.h"

int tool_cmd_subscribe(ua_client *c, char **args, size_t n, uint32_t interval_ms,
                       uint32_t queue_size, uint32_t duration_ms, uint32_t count,
                       volatile sig_atomic_t *stop);

int tool_cmd_subscribe(ua_client *c, char **args, size_t n, uint32_t interval_ms,
                       uint32_t queue_size, uint32_t duration_ms, uint32_t count,
                       volatile sig_atomic_t *stop)
{
    printf("%s\n", ua_status_name(UA_STATUS_BAD_NOT_IMPLEMENTED));
    return 1;
}
