/*
 * subscribe.c - the subscribe command of fieldplane-opcua: one line per data change
 * (`NODEID VALUE`, or `NODEID STATUSNAME` for a bad value) or per event (`NODEID FIELD,...`),
 * until --duration, --count or a signal ends it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_alloc.h"
#include "tool.h"

typedef struct sub_run {
    char **names;
    uint64_t seen;
    fp_buf line;
} sub_run;

static void emit_line(fp_buf *b)
{
    if (!b->err) {
        fwrite(b->data ? b->data : "", 1, b->len, stdout);
        fputc('\n', stdout);
    }
    fp_buf_reset(b);
}

static void on_change(ua_subscription *s, uint32_t handle, void *item_ctx,
                      const ua_data_value *value, void *ctx)
{
    sub_run *run = ctx;
    size_t i = (size_t)(uintptr_t)item_ctx;
    fp_buf_printf(&run->line, "%s ", run->names[i]);
    if ((value->has & UA_DV_STATUS) && ua_status_is_bad(value->status))
        fp_buf_append_str(&run->line, ua_status_name(value->status));
    else
        ua_print_append(&run->line, &value->value, UA_TYPE(VARIANT));
    emit_line(&run->line);
    run->seen++;
}

static void on_event(ua_subscription *s, uint32_t handle, void *item_ctx, const ua_variant *fields,
                     size_t n_fields, void *ctx)
{
    sub_run *run = ctx;
    size_t i = (size_t)(uintptr_t)item_ctx;
    fp_buf_printf(&run->line, "%s ", run->names[i]);
    for (size_t k = 0; k < n_fields; k++) {
        if (k)
            fp_buf_append_str(&run->line, ",");
        ua_print_append(&run->line, &fields[k], UA_TYPE(VARIANT));
    }
    emit_line(&run->line);
    run->seen++;
}

int tool_cmd_subscribe(ua_client *c, char **args, size_t n, const tool_sub_opts *o,
                       volatile sig_atomic_t *stop)
{
    if (n == 0) {
        fprintf(stderr, "fieldplane-opcua: subscribe needs at least one node id\n");
        return 2;
    }
    sub_run run;
    memset(&run, 0, sizeof(run));
    run.names = args;
    fp_buf_init(&run.line, 1u << 20);

    /* Event fields: a comma separated list, split in place of a copy. */
    char *fields_copy = o->event_fields ? fp_strdup(o->event_fields) : NULL;
    const char *fields[64];
    size_t n_fields = 0;
    for (char *tok = fields_copy ? strtok(fields_copy, ",") : NULL; tok && n_fields < 64;
         tok = strtok(NULL, ","))
        fields[n_fields++] = tok;
    ua_node_id event_type;
    bool have_event_type = false;
    if (o->event_type) {
        if (ua_client_parse_node_id(c, o->event_type, &event_type)) {
            fprintf(stderr, "fieldplane-opcua: '%s' is not a node id\n", o->event_type);
            fp_free(fields_copy);
            fp_buf_clear(&run.line);
            return 2;
        }
        have_event_type = true;
    }

    ua_monitor_item *items = fp_calloc(n, sizeof(*items));
    uint32_t *handles = fp_calloc(n, sizeof(*handles));
    ua_status *results = fp_calloc(n, sizeof(*results));
    int rc = 0;
    ua_subscription *sub = NULL;
    size_t parsed = 0;
    if (!items || !handles || !results) {
        rc = 1;
        goto out;
    }
    for (; parsed < n; parsed++) {
        if (ua_client_parse_node_id(c, args[parsed], &items[parsed].node_id)) {
            fprintf(stderr, "fieldplane-opcua: '%s' is not a node id\n", args[parsed]);
            rc = 2;
            goto out;
        }
        items[parsed].sampling_interval_ms =
            o->sampling_ms >= 0 ? (double)o->sampling_ms : (double)o->interval_ms;
        items[parsed].queue_size = o->queue_size;
        items[parsed].discard_oldest = true;
        items[parsed].trigger = o->trigger;
        items[parsed].deadband_type = o->deadband_type;
        items[parsed].deadband_value = o->deadband_value;
        items[parsed].ctx = (void *)(uintptr_t)parsed;
        if (n_fields) {
            items[parsed].event_fields = fields;
            items[parsed].n_event_fields = n_fields;
            items[parsed].event_type = have_event_type ? &event_type : NULL;
        }
    }
    ua_subscription_params sp;
    memset(&sp, 0, sizeof(sp));
    sp.publishing_interval_ms = o->interval_ms;
    sp.on_data_change = on_change;
    sp.on_event = on_event;
    sp.ctx = &run;
    ua_status st = ua_subscription_create_sync(c, &sp, &sub);
    if (!st)
        st = ua_subscription_monitor_sync(sub, items, n, handles, results);
    if (st) {
        printf("%s\n", ua_status_name(st));
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (ua_status_is_bad(results[i])) {
            printf("%s %s\n", args[i], ua_status_name(results[i]));
            rc = 1;
        }
    }
    fflush(stdout);
    ua_loop *loop = ua_client_loop(c);
    uint64_t end = o->duration_ms ? ua_loop_now_ms() + o->duration_ms : 0;
    while (!*stop && (!end || ua_loop_now_ms() < end) && (!o->count || run.seen < o->count)) {
        if (ua_client_get_state(c) == UA_CLIENT_DISCONNECTED) {
            printf("%s\n", ua_status_name(UA_STATUS_BAD_CONNECTION_CLOSED));
            rc = 1;
            break;
        }
        ua_loop_run_once(loop, 100);
        fflush(stdout);
    }
    if (o->stats) {
        ua_subscription_stats ss;
        ua_client_stats cs;
        ua_subscription_get_stats(sub, &ss);
        ua_client_get_stats(c, &cs);
        fprintf(stderr,
                "stats: requests=%llu timeouts=%llu token_renewals=%u publish_responses=%llu "
                "keepalives=%llu data_changes=%llu events=%llu republished=%llu lost=%llu "
                "reconnects=%u recreated=%u interval_ms=%g\n",
                (unsigned long long)cs.requests, (unsigned long long)cs.timeouts, cs.token_renewals,
                (unsigned long long)ss.publish_responses, (unsigned long long)ss.keepalives,
                (unsigned long long)ss.data_changes, (unsigned long long)ss.events,
                (unsigned long long)ss.republished, (unsigned long long)ss.lost, cs.reconnects,
                ss.recreated, ss.revised_publishing_interval_ms);
    }
    if (ua_client_get_state(c) == UA_CLIENT_CONNECTED)
        ua_subscription_delete_sync(sub);
out:
    for (size_t i = 0; i < parsed && items; i++)
        ua_node_id_clear(&items[i].node_id);
    if (have_event_type)
        ua_node_id_clear(&event_type);
    fp_free(items);
    fp_free(handles);
    fp_free(results);
    fp_free(fields_copy);
    fp_buf_clear(&run.line);
    fflush(stdout);
    return rc;
}
