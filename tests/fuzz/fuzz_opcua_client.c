/*
 * fuzz_opcua_client.c - libFuzzer harness for the client's response handling: arbitrary bytes
 * as server messages into a ua_client whose session is up.
 *
 * The harness plays the server (tests/unit/test_opcua_fake.h) on the other end of a socketpair
 * handed to the connection (ua_conn_use_socket), on the client's own loop: it answers HEL, OPN,
 * CreateSession and ActivateSession from a script (security None, anonymous), then the client
 * creates a subscription, monitors two data items and an event item, reads two values and runs its
 * publish loop, and every answer it waits for comes from the fuzz input. When the input is
 * used up the server end is closed, so every outstanding call ends at once.
 *
 * Input: records [flags u8][length u16 LE][length bytes]. Without flags the bytes are a service
 * response body (encoding NodeId + structure) sent as one MSG chunk to the outstanding request
 * whose response type it names (else, after a few loop turns, the oldest). Flags: 1 the bytes go to
 * the socket as they are (framing, chunk headers, ERR, OPN); 2 the body is split into an
 * intermediate and a final chunk; 4 it goes to the oldest outstanding request whatever its type.
 * The seed corpus (tests/fuzz/corpus/fuzz_opcua_client/) is made of responses recorded from the
 * test peer (tests/peers/opcua/record.mjs).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fp_log.h"
#include "opcua/ua_client.h"
#include "opcua/ua_types.h"
#include "opcua/ua_uacp.h"
#include "../unit/test_opcua_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OUTSTANDING 64

/* The requests waiting for an answer and the input left. */
typedef struct harness {
    ua_fake f;
    bool fuzzing; /* the scripted part is over: answers come from the input */
    uint32_t req_ids[MAX_OUTSTANDING];
    uint32_t req_types[MAX_OUTSTANDING];
    size_t n_req;
    const uint8_t *in;
    size_t in_len;
    int stalled; /* loop turns the next record has waited for its request */
} harness;

static void on_request(ua_fake *f, uint32_t request_id, uint32_t type, const uint8_t *body,
                       size_t len)
{
    harness *s = f->ctx;
    (void)body, (void)len;
    if (s->n_req < MAX_OUTSTANDING) {
        s->req_ids[s->n_req] = request_id;
        s->req_types[s->n_req] = type;
        s->n_req++;
    }
}

/* Send the next input record to an outstanding request; close when the input is used up. */
static void feed(ua_fake *f)
{
    harness *s = f->ctx;
    if (!s->fuzzing)
        return;
    if (s->in_len < 3) {
        ua_fake_close(f);
        return;
    }
    uint8_t flags = s->in[0];
    size_t len = (size_t)s->in[1] | (size_t)s->in[2] << 8;
    if (len > s->in_len - 3)
        len = s->in_len - 3;
    const uint8_t *body = s->in + 3;
    if (flags & 1) {
        s->in += 3 + len;
        s->in_len -= 3 + len;
        ua_fake_write(f, body, len);
        return;
    }
    if (s->n_req == 0) {
        /* Nothing to answer: the client has given up asking, the rest cannot go anywhere. */
        if (++s->stalled >= 20)
            ua_fake_close(f);
        return;
    }
    /* A response waits a few loop turns for the request of its type (the client may not have
     * sent it yet), then goes to the oldest one. */
    size_t k = 0;
    uint32_t type = ua_fake_body_type(body, len);
    bool found = false;
    for (size_t i = 0; i < s->n_req && !(flags & 4); i++) {
        if (s->req_types[i] + 3 == type) {
            k = i;
            found = true;
            break;
        }
    }
    if (!found && !(flags & 4) && type != 397 && ++s->stalled < 20)
        return;
    s->stalled = 0;
    s->in += 3 + len;
    s->in_len -= 3 + len;
    uint32_t request_id = s->req_ids[k];
    memmove(s->req_ids + k, s->req_ids + k + 1, (s->n_req - k - 1) * sizeof(uint32_t));
    memmove(s->req_types + k, s->req_types + k + 1, (s->n_req - k - 1) * sizeof(uint32_t));
    s->n_req--;
    if ((flags & 2) && len > 1) {
        ua_fake_send_chunk(f, UA_CHUNK_INTERMEDIATE, request_id, body, len / 2);
        ua_fake_send_chunk(f, UA_CHUNK_FINAL, request_id, body + len / 2, len - len / 2);
    } else {
        ua_fake_send_chunk(f, UA_CHUNK_FINAL, request_id, body, len);
    }
}

static void on_data_change(ua_subscription *sub, uint32_t handle, void *item_ctx,
                           const ua_data_value *value, void *ctx)
{
    char buf[256];
    (void)sub, (void)handle, (void)item_ctx, (void)ctx;
    ua_print(value, UA_TYPE(DATA_VALUE), buf, sizeof(buf));
}

static void on_event(ua_subscription *sub, uint32_t handle, void *item_ctx,
                     const ua_variant *fields, size_t n_fields, void *ctx)
{
    char buf[256];
    (void)sub, (void)handle, (void)item_ctx, (void)ctx;
    for (size_t i = 0; i < n_fields; i++)
        ua_print(&fields[i], UA_TYPE(VARIANT), buf, sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static harness s; /* 64 KiB of receive buffer: not on the stack */
    fp_log_set_level(FP_LOG_ERROR);
    memset(&s, 0, sizeof(s));
    s.in = data;
    s.in_len = size;
    s.f.on_request = on_request;
    s.f.on_turn = feed;
    s.f.ctx = &s;
    ua_loop *loop = ua_loop_new();
    if (!loop)
        abort();

    ua_client_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.request_timeout_ms = 2000;
    ua_client *c = ua_client_new(loop, &cfg);
    if (!c)
        abort();
    if (ua_fake_start(&s.f, loop, c) < 0)
        abort();
    if (ua_client_connect_sync(c, "opc.tcp://fuzz.invalid:4840/") != UA_STATUS_GOOD)
        abort(); /* the scripted part never fails */
    s.fuzzing = true;

    ua_subscription *sub = NULL;
    ua_subscription_params sp = {100, 10, 0, 0, on_data_change, on_event, NULL};
    if (ua_subscription_create_sync(c, &sp, &sub) == UA_STATUS_GOOD) {
        static const char *const fields[] = {"EventType", "Message", "Severity"};
        ua_monitor_item items[3];
        uint32_t handles[3];
        ua_status results[3];
        memset(items, 0, sizeof(items));
        items[0].node_id = ua_node_id_numeric(1, 1001);
        items[1].node_id = ua_node_id_numeric(1, 1002);
        items[2].node_id = ua_node_id_numeric(0, 2253);
        items[2].attribute_id = 12;
        items[2].event_fields = fields;
        items[2].n_event_fields = 3;
        ua_status st = ua_subscription_monitor_sync(sub, items, 3, handles, results);
        if (getenv("FUZZ_OPCUA_VERBOSE"))
            fprintf(stderr, "monitor: %s\n", ua_status_name(st));
    }
    if (ua_client_get_state(c) == UA_CLIENT_CONNECTED) {
        ua_read_value_id nodes[2];
        ua_data_value values[2];
        memset(nodes, 0, sizeof(nodes));
        nodes[0].node_id = ua_node_id_numeric(1, 1001);
        nodes[0].attribute_id = 13;
        nodes[1].node_id = ua_node_id_numeric(0, 2258);
        nodes[1].attribute_id = 13;
        (void)ua_client_read_sync(c, nodes, 2, values);
        ua_data_value_clear(&values[0]);
        ua_data_value_clear(&values[1]);
    }
    /* The rest of the input goes to the publish loop; then the server end closes. */
    for (int i = 0; i < 100000 && s.f.fd >= 0; i++)
        ua_loop_run_once(loop, 0);
    if (sub && getenv("FUZZ_OPCUA_VERBOSE")) {
        ua_subscription_stats st;
        ua_subscription_get_stats(sub, &st);
        fprintf(stderr, "publish responses %llu, data changes %llu, events %llu\n",
                (unsigned long long)st.publish_responses, (unsigned long long)st.data_changes,
                (unsigned long long)st.events);
    }
    ua_fake_close(&s.f);
    for (int i = 0; i < 100 && ua_client_get_state(c) == UA_CLIENT_CONNECTED; i++)
        ua_loop_run_once(loop, 0);
    ua_client_free(c);
    ua_loop_free(loop);
    return 0;
}
