/*
 * sessions.c - `read --sessions N`: N sessions to one server on one event loop, connected and
 * read concurrently. It shows (and tests) that the client never blocks: all connects and all
 * reads are in flight at the same time, and one thread drives them.
 */
#include <stdio.h>
#include <string.h>

#include "fp_alloc.h"
#include "opcua/ua_nodeid.h"
#include "tool.h"

typedef struct session_run {
    size_t pending; /* callbacks still to come in the current phase */
    size_t connected;
    size_t read_ok;
    size_t n_nodes;
    fp_buf line;
} session_run;

typedef struct session_slot {
    session_run *run;
    ua_client *client;
    size_t index;
    bool up;
} session_slot;

static void connected_cb(ua_client *c, ua_status status, void *ctx)
{
    session_slot *s = ctx;
    if (s->run->pending > 0 && !s->up) {
        s->run->pending--;
        if (!status) {
            s->up = true;
            s->run->connected++;
        } else {
            fprintf(stderr, "session %zu: %s\n", s->index, ua_status_name(status));
        }
    }
}

static void read_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    session_slot *s = ctx;
    session_run *run = s->run;
    ua_read_response *r = response;
    run->pending--;
    if (status || !r || r->results_count != run->n_nodes) {
        printf("%zu %s\n", s->index,
               ua_status_name(status ? status : UA_STATUS_BAD_UNEXPECTED_ERROR));
        return;
    }
    run->read_ok++;
    for (size_t i = 0; i < r->results_count; i++) {
        const ua_data_value *dv = &r->results[i];
        fp_buf_printf(&run->line, "%zu ", s->index);
        if ((dv->has & UA_DV_STATUS) && ua_status_is_bad(dv->status))
            fp_buf_append_str(&run->line, ua_status_name(dv->status));
        else
            ua_print_append(&run->line, &dv->value, UA_TYPE(VARIANT));
        if (!run->line.err)
            printf("%s\n", run->line.data);
        fp_buf_reset(&run->line);
    }
}

int tool_cmd_read_sessions(ua_loop *loop, const ua_client_config *cfg, const char *url, char **args,
                           size_t n, size_t n_sessions)
{
    int rc = 0;
    session_run run;
    memset(&run, 0, sizeof(run));
    run.n_nodes = n;
    fp_buf_init(&run.line, 1u << 20);
    session_slot *slots = fp_calloc(n_sessions, sizeof(*slots));
    ua_read_value_id *nodes = fp_calloc(n ? n : 1, sizeof(*nodes));
    if (!slots || !nodes) {
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (ua_node_id_parse(&nodes[i].node_id, args[i], NULL, 0)) {
            fprintf(stderr, "fieldplane-opcua: '%s' is not a node id\n", args[i]);
            rc = 2;
            goto out;
        }
        nodes[i].attribute_id = UA_ATTR_VALUE;
    }
    uint64_t t0 = ua_loop_now_ms();
    for (size_t i = 0; i < n_sessions; i++) {
        slots[i].run = &run;
        slots[i].index = i;
        slots[i].client = ua_client_new(loop, cfg);
        if (slots[i].client && !ua_client_connect(slots[i].client, url, connected_cb, &slots[i]))
            run.pending++;
    }
    uint64_t end = ua_loop_now_ms() + 60000;
    while (run.pending > 0 && ua_loop_now_ms() < end)
        ua_loop_run_once(loop, 100);
    uint64_t t1 = ua_loop_now_ms();
    run.pending = 0;
    for (size_t i = 0; i < n_sessions; i++) {
        if (!slots[i].up)
            continue;
        ua_read_request req;
        ua_read_request_init(&req);
        req.nodes_to_read = nodes;
        req.nodes_to_read_count = n;
        req.timestamps_to_return = UA_TIMESTAMPS_TO_RETURN_NEITHER;
        if (!ua_client_service(slots[i].client, &req, UA_TYPE(READ_REQUEST), UA_TYPE(READ_RESPONSE),
                               read_cb, &slots[i]))
            run.pending++;
    }
    end = ua_loop_now_ms() + 60000;
    while (run.pending > 0 && ua_loop_now_ms() < end)
        ua_loop_run_once(loop, 100);
    uint64_t t2 = ua_loop_now_ms();
    fprintf(stderr, "sessions=%zu connected=%zu read=%zu connect_ms=%llu read_ms=%llu\n",
            n_sessions, run.connected, run.read_ok, (unsigned long long)(t1 - t0),
            (unsigned long long)(t2 - t1));
    if (run.connected != n_sessions || run.read_ok != n_sessions)
        rc = 1;
out:
    for (size_t i = 0; slots && i < n_sessions; i++) {
        if (slots[i].client) {
            ua_client_disconnect_sync(slots[i].client);
            ua_client_free(slots[i].client);
        }
    }
    for (size_t i = 0; nodes && i < n; i++)
        ua_node_id_clear(&nodes[i].node_id);
    fp_free(nodes);
    fp_free(slots);
    fp_buf_clear(&run.line);
    return rc;
}
