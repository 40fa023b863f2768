/*
 * tool.h - shared parts of the fieldplane-opcua command-line tool: printing values as text,
 * parsing text into values, and node ids in their string forms.
 */
#ifndef FP_OPCUA_TOOL_H
#define FP_OPCUA_TOOL_H

#include <signal.h>
#include <stdio.h>

#include "fp_buf.h"
#include "opcua/ua_client.h"
#include "opcua/ua_status.h"
#include "opcua/ua_types.h"

/* Parse text into a Variant of the built-in type kind (scalar, or an array when is_array:
 * comma separated). Returns Good or BadTypeMismatch / BadOutOfMemory. */
ua_status tool_parse_variant(ua_variant *v, const char *z, const ua_type *t, bool is_array);

/* Options of the subscribe command. */
typedef struct tool_sub_opts {
    uint32_t interval_ms;
    int64_t sampling_ms; /* negative: interval_ms */
    uint32_t queue_size;
    uint32_t duration_ms;
    uint32_t count;
    int trigger;
    int deadband_type;
    double deadband_value;
    const char *event_fields; /* comma separated: event items instead of data items */
    const char *event_type;   /* OfType filter */
    bool stats;
} tool_sub_opts;

/* read --sessions N: N concurrent sessions on one loop, each reading the nodes. */
int tool_cmd_read_sessions(ua_loop *loop, const ua_client_config *cfg, const char *url, char **args,
                           size_t n, size_t n_sessions);

int tool_cmd_subscribe(ua_client *c, char **args, size_t n, const tool_sub_opts *o,
                       volatile sig_atomic_t *stop);

#endif
