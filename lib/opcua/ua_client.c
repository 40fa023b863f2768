/*
 * ua_client.c - the client object: service calls over a secure channel, and the session.
 *
 * A ua_client owns one ua_conn. Service calls are encoded with the table-driven codec
 * (the request's descriptor), sent as one message, and matched to their response by the
 * secure channel's request id; each outstanding call has its own timeout timer on the loop.
 * A response is decoded with the descriptor the caller named, after checking that the
 * encoding id on the wire is that type's (or a ServiceFault), so a hostile server can never
 * make the client decode into the wrong structure.
 *
 * Connecting runs the steps of OPC 10000-4 5.6 in order: open the channel, CreateSession,
 * pick the server's user token policy matching the identity, ActivateSession.
 */
#include <string.h>
#include <sys/random.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "ua_client_internal.h"

/* ------------------------------------------------------------------------ life cycle */

double ua_client_server_ms(double server_ms, double fallback_ms, double max_ms)
{
    /* A double out of an integer's range converted to one is undefined behaviour, and the
     * callers turn these into timers: so the value is bounded here, where it comes in. */
    double ms = server_ms > 0 ? server_ms : fallback_ms; /* NaN compares false too */
    return ms > max_ms ? max_ms : ms;
}

static char *dup_or_null(const char *z)
{
    return z ? fp_strdup(z) : NULL;
}

static void config_clear(ua_client_config *cfg)
{
    fp_free((char *)cfg->security_policy);
    fp_free((char *)cfg->user);
    fp_free((char *)cfg->password);
    fp_free((char *)cfg->cert_file);
    fp_free((char *)cfg->key_file);
    fp_free((char *)cfg->pki_dir);
    fp_free((char *)cfg->application_uri);
    fp_free((char *)cfg->application_name);
    fp_free((char *)cfg->session_name);
    memset(cfg, 0, sizeof(*cfg));
}

static bool config_copy(ua_client_config *dst, const ua_client_config *src)
{
    *dst = *src;
    dst->security_policy = dup_or_null(src->security_policy);
    dst->user = dup_or_null(src->user);
    dst->password = dup_or_null(src->password);
    dst->cert_file = dup_or_null(src->cert_file);
    dst->key_file = dup_or_null(src->key_file);
    dst->pki_dir = dup_or_null(src->pki_dir);
    dst->application_uri =
        fp_strdup(src->application_uri ? src->application_uri : "urn:fieldplane:opcua-client");
    dst->application_name =
        fp_strdup(src->application_name ? src->application_name : "Fieldplane OPC UA client");
    dst->session_name = fp_strdup(src->session_name       ? src->session_name
                                  : dst->application_name ? dst->application_name
                                                          : "session");
    if ((src->security_policy && !dst->security_policy) || (src->user && !dst->user) ||
        (src->password && !dst->password) || (src->cert_file && !dst->cert_file) ||
        (src->key_file && !dst->key_file) || (src->pki_dir && !dst->pki_dir) ||
        !dst->application_uri || !dst->application_name || !dst->session_name)
        return false;
    if (!dst->request_timeout_ms)
        dst->request_timeout_ms = 10000;
    if (!dst->session_timeout_ms)
        dst->session_timeout_ms = 60000;
    if (!dst->token_lifetime_ms)
        dst->token_lifetime_ms = 600000;
    return true;
}

/* A policy given by short name or URI; NULL when unknown. */
static const ua_security_policy *policy_of(const char *name)
{
    if (!name || !*name)
        name = "None";
    const ua_security_policy *p = ua_policy_by_name(name);
    return p ? p : ua_policy_by_uri(name);
}

static void client_on_open(void *ctx);
static void client_on_message(void *ctx, uint32_t request_id, const uint8_t *body, size_t len);
static void client_on_closed(void *ctx, uint32_t status);

ua_client *ua_client_new(ua_loop *loop, const ua_client_config *cfg)
{
    ua_client_config defaults;
    memset(&defaults, 0, sizeof(defaults));
    ua_client *c = fp_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = loop;
    if (!config_copy(&c->cfg, cfg ? cfg : &defaults))
        goto out_free;
    ua_conn_handler h = {client_on_open, client_on_message, client_on_closed, c};
    ua_conn_limits lim;
    memset(&lim, 0, sizeof(lim));
    lim.token_lifetime_ms = c->cfg.token_lifetime_ms;
    lim.connect_timeout_ms = c->cfg.request_timeout_ms;
    c->conn = ua_conn_new(loop, &h, &lim);
    if (!c->conn)
        goto out_free;
    return c;

out_free:
    config_clear(&c->cfg);
    fp_free(c);
    return NULL;
}

static void session_clear(ua_client *c)
{
    ua_node_id_clear(&c->auth_token);
    ua_node_id_clear(&c->session_id);
    ua_bytestring_clear(&c->server_nonce);
    ua_bytestring_clear(&c->server_cert);
    c->session_active = false;
    ua_client_ops_clear(c);
}

/* Fail every outstanding call with status. Callbacks may issue new calls: those are not
 * failed here (they were queued after the snapshot) unless the conn is down. */
static void fail_pending(ua_client *c, ua_status status)
{
    ua_pending *list = c->pending;
    c->pending = NULL;
    c->n_pending = 0;
    while (list) {
        ua_pending *p = list;
        list = p->next;
        ua_loop_timer_stop(c->loop, &p->timer);
        if (p->cb)
            p->cb(c, status, NULL, p->ctx);
        fp_free(p);
    }
}

void ua_client_free(ua_client *c)
{
    if (!c)
        return;
    ua_sub_free_all(c);
    /* Fail what is pending while the connection still exists: a call in flight may be a
     * step of a connect attempt, whose failure path closes the connection (and may arm the
     * reconnect timer, stopped below). */
    c->state_cb = NULL;
    c->freeing = true;
    fail_pending(c, UA_STATUS_BAD_SHUTDOWN);
    ua_loop_timer_stop(c->loop, &c->reconnect_timer);
    ua_user_token_policy_clear(&c->token_policy);
    ua_conn_free(c->conn);
    c->conn = NULL;
    session_clear(c);
    ua_session_security_free(c);
    config_clear(&c->cfg);
    fp_free(c->url);
    fp_free(c);
}

ua_client_state ua_client_get_state(const ua_client *c)
{
    return c->state;
}

ua_loop *ua_client_loop(const ua_client *c)
{
    return c->loop;
}

void ua_client_get_stats(const ua_client *c, ua_client_stats *out)
{
    *out = c->stats;
    out->token_renewals = c->conn ? ua_conn_token_renewals(c->conn) : 0;
}

/* ----------------------------------------------------------------------- service calls */

static void pending_timeout_cb(void *ctx)
{
    ua_pending *p = ctx;
    ua_client *c = p->client;
    ua_pending **pp = &c->pending;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = p->next;
        c->n_pending--;
    }
    c->stats.timeouts++;
    if (p->cb)
        p->cb(c, UA_STATUS_BAD_TIMEOUT, NULL, p->ctx);
    fp_free(p);
}

ua_status ua_client_service_ex(ua_client *c, const void *request, const ua_type *req_type,
                               const ua_type *resp_type, uint32_t timeout_ms,
                               ua_client_service_cb cb, void *ctx)
{
    if (c->freeing)
        return UA_STATUS_BAD_SHUTDOWN;
    if (!c->conn || ua_conn_get_state(c->conn) != UA_CONN_OPEN)
        return UA_STATUS_BAD_NOT_CONNECTED;
    if (req_type->kind != UA_KIND_STRUCTURE || resp_type->kind != UA_KIND_STRUCTURE ||
        !req_type->binary_encoding_id || !resp_type->binary_encoding_id)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (!timeout_ms)
        timeout_ms = c->cfg.request_timeout_ms;
    if (c->n_pending >= UA_CLIENT_MAX_PENDING)
        return UA_STATUS_BAD_TOO_MANY_OPERATIONS;

    /* Every request type starts with its RequestHeader: fill in a shallow copy for encoding,
     * so the caller's request stays untouched. */
    ua_request_header saved;
    ua_request_header *hdr = (ua_request_header *)request;
    memcpy(&saved, hdr, sizeof(saved));
    ua_request_header filled = saved;
    filled.authentication_token = c->auth_token;
    filled.timestamp = ua_conn_datetime_now();
    filled.request_handle = ++c->next_handle;
    filled.timeout_hint = timeout_ms;
    memcpy(hdr, &filled, sizeof(filled));

    ua_status st = UA_STATUS_GOOD;
    size_t body_len = ua_encoded_size(request, req_type);
    ua_wbuf w;
    ua_wbuf_init(&w, 64u * 1024 * 1024);
    ua_wbuf_nodeid_num(&w, 0, req_type->binary_encoding_id);
    if (body_len == 0) {
        st = UA_STATUS_BAD_ENCODING_ERROR;
    } else {
        uint8_t *pos = ua_wbuf_extend(&w, body_len);
        if (!pos) {
            st = w.err == UAC_BAD_OUT_OF_MEMORY ? UA_STATUS_BAD_OUT_OF_MEMORY
                                                : UA_STATUS_BAD_REQUEST_TOO_LARGE;
        } else {
            st = ua_encode(request, req_type, &pos, w.data + w.len);
            if (!st && pos != w.data + w.len)
                st = UA_STATUS_BAD_ENCODING_ERROR;
        }
    }
    memcpy(hdr, &saved, sizeof(saved));
    if (st) {
        ua_wbuf_clear(&w);
        return st;
    }

    ua_pending *p = fp_calloc(1, sizeof(*p));
    if (!p) {
        ua_wbuf_clear(&w);
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    }
    uint32_t request_id = 0;
    st = ua_conn_send(c->conn, w.data, w.len, &request_id);
    ua_wbuf_clear(&w);
    if (st) {
        fp_free(p);
        return st;
    }
    p->client = c;
    p->request_id = request_id;
    p->resp_type = resp_type;
    p->cb = cb;
    p->ctx = ctx;
    ua_loop_timer_init(&p->timer, pending_timeout_cb, p);
    ua_loop_timer_start(c->loop, &p->timer, timeout_ms);
    p->next = c->pending;
    c->pending = p;
    c->n_pending++;
    c->stats.requests++;
    return UA_STATUS_GOOD;
}

ua_status ua_client_service(ua_client *c, const void *request, const ua_type *req_type,
                            const ua_type *resp_type, ua_client_service_cb cb, void *ctx)
{
    return ua_client_service_ex(c, request, req_type, resp_type, 0, cb, ctx);
}

static void client_on_message(void *ctx, uint32_t request_id, const uint8_t *body, size_t len)
{
    ua_client *c = ctx;
    ua_pending **pp = &c->pending;
    while (*pp && (*pp)->request_id != request_id)
        pp = &(*pp)->next;
    if (!*pp) {
        fp_log_debug("opcua", "response to unknown request id %u dropped", request_id);
        return;
    }
    ua_pending *p = *pp;
    *pp = p->next;
    c->n_pending--;
    ua_loop_timer_stop(c->loop, &p->timer);
    c->stats.responses++;

    ua_rbuf r = {body, body + len, false};
    uint16_t ns;
    uint32_t enc_id;
    ua_rbuf_nodeid(&r, &ns, &enc_id);
    const ua_type *fault_type = UA_TYPE(SERVICE_FAULT);
    const ua_type *t = NULL;
    ua_status st = UA_STATUS_GOOD;
    if (r.err || ns != 0)
        st = UA_STATUS_BAD_DECODING_ERROR;
    else if (enc_id == fault_type->binary_encoding_id)
        t = fault_type;
    else if (enc_id == p->resp_type->binary_encoding_id)
        t = p->resp_type;
    else
        st = UA_STATUS_BAD_UNKNOWN_RESPONSE;

    void *resp = NULL;
    bool decoded = false;
    if (!st) {
        resp = fp_calloc(1, t->size);
        if (!resp)
            st = UA_STATUS_BAD_OUT_OF_MEMORY;
        else
            st = ua_decode_buf(r.p, (size_t)(r.end - r.p), resp, t, NULL);
        decoded = !st;
    }
    if (!st) {
        /* Every response type starts with its ResponseHeader. */
        ua_status result = ((ua_response_header *)resp)->service_result;
        if (t == fault_type)
            st = ua_status_is_bad(result) ? result : UA_STATUS_BAD_UNEXPECTED_ERROR;
        else if (ua_status_is_bad(result))
            st = result;
    }
    if (p->cb)
        p->cb(c, st, (decoded && t == p->resp_type) ? resp : NULL, p->ctx);
    if (resp) {
        ua_clear(resp, t);
        fp_free(resp);
    }
    fp_free(p);
}

/* ------------------------------------------------------------------------ sync helpers */

typedef struct sync_call {
    bool done;
    ua_status status;
    void *response;
    const ua_type *resp_type;
} sync_call;

static void sync_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    sync_call *s = ctx;
    s->done = true;
    s->status = status;
    if (response) {
        memcpy(s->response, response, s->resp_type->size);
        memset(response, 0, s->resp_type->size);
    }
}

ua_status ua_client_service_sync(ua_client *c, const void *request, const ua_type *req_type,
                                 void *response, const ua_type *resp_type)
{
    sync_call s = {false, UA_STATUS_GOOD, response, resp_type};
    ua_init(response, resp_type);
    ua_status st = ua_client_service(c, request, req_type, resp_type, sync_cb, &s);
    if (st)
        return st;
    /* The call's own timer ends it; the margin only guards against a stuck loop. */
    if (ua_loop_run_until(c->loop, &s.done, (uint64_t)c->cfg.request_timeout_ms + 5000) < 0)
        return UA_STATUS_BAD_TIMEOUT;
    return s.status;
}

/* --------------------------------------------------------------------------- session */

static void schedule_reconnect(ua_client *c);

/* The end of a connect attempt (first or reconnect). A failed reconnect tries again later. */
static void connect_done(ua_client *c, ua_status st)
{
    if (st && c->reconnecting) {
        fp_log_info("opcua", "reconnect to %s failed: %s", c->url, ua_status_name(st));
        ua_conn_close(c->conn);
        fail_pending(c, st);
        schedule_reconnect(c);
        return;
    }
    if (st) {
        ua_conn_close(c->conn);
        fail_pending(c, st);
        session_clear(c);
        c->state = UA_CLIENT_DISCONNECTED;
    } else {
        c->state = UA_CLIENT_CONNECTED;
        if (c->reconnecting) {
            c->reconnecting = false;
            c->reconnect_delay_ms = 0;
            c->stats.reconnects++;
            fp_log_info("opcua", "reconnected to %s (%s session)", c->url,
                        c->new_session ? "new" : "same");
            if (c->new_session)
                ua_sub_recreate(c);
            else
                ua_sub_resume(c);
        }
        c->new_session = false;
    }
    if (c->state_cb)
        c->state_cb(c, st, c->state_ctx);
}

/* The user token policy of the endpoint we are on that fits our identity, or NULL. */
static const ua_user_token_policy *
pick_token_policy(ua_client *c, const ua_create_session_response *r, ua_user_token_type want)
{
    const ua_user_token_policy *fallback = NULL;
    for (size_t i = 0; i < r->server_endpoints_count; i++) {
        const ua_endpoint_description *e = &r->server_endpoints[i];
        bool ours = e->security_mode == c->mode &&
                    e->security_policy_uri.length == strlen(c->policy_uri) &&
                    e->security_policy_uri.data != NULL &&
                    !memcmp(e->security_policy_uri.data, c->policy_uri, strlen(c->policy_uri));
        for (size_t k = 0; k < e->user_identity_tokens_count; k++) {
            const ua_user_token_policy *t = &e->user_identity_tokens[k];
            if (t->token_type != want)
                continue;
            if (ours)
                return t;
            if (!fallback)
                fallback = t;
        }
    }
    return fallback;
}

static ua_status send_create_session(ua_client *c);

static void activate_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    ua_activate_session_response *r = response;
    if (status && c->reconnecting && !c->new_session && status != UA_STATUS_BAD_TIMEOUT &&
        ua_conn_get_state(c->conn) == UA_CONN_OPEN) {
        /* The session is gone (the server restarted or it timed out): start a new one and
         * recreate the subscriptions on it (OPC 10000-4 6.7). */
        fp_log_info("opcua", "session not reactivated (%s): creating a new one",
                    ua_status_name(status));
        session_clear(c);
        c->new_session = true;
        ua_status st = send_create_session(c);
        if (st)
            connect_done(c, st);
        return;
    }
    if (status) {
        connect_done(c, status);
        return;
    }
    if (r->server_nonce.data && r->server_nonce.length > 0) {
        ua_bytestring_clear(&c->server_nonce);
        ua_bytestring_copy(&r->server_nonce, &c->server_nonce);
    }
    c->session_active = true;
    fp_log_debug("opcua", "session active on %s", c->url);
    connect_done(c, UA_STATUS_GOOD);
}

/* ActivateSession with the user token policy chosen at CreateSession (kept for
 * reactivation after a reconnect). */
static ua_status send_activate(ua_client *c)
{
    ua_activate_session_request req;
    ua_activate_session_request_init(&req);
    ua_status st = ua_session_identity_token(c, &c->token_policy, &req.user_identity_token,
                                             &req.user_token_signature);
    if (!st)
        st = ua_session_client_signature(c, &req.client_signature);
    if (!st)
        st = ua_client_service(c, &req, UA_TYPE(ACTIVATE_SESSION_REQUEST),
                               UA_TYPE(ACTIVATE_SESSION_RESPONSE), activate_cb, NULL);
    ua_activate_session_request_clear(&req);
    return st;
}

static void create_session_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    ua_create_session_response *r = response;
    if (status) {
        connect_done(c, status);
        return;
    }
    session_clear(c);
    ua_status st = ua_node_id_copy(&r->authentication_token, &c->auth_token);
    if (!st)
        st = ua_node_id_copy(&r->session_id, &c->session_id);
    if (!st)
        st = ua_bytestring_copy(&r->server_nonce, &c->server_nonce);
    if (!st)
        st = ua_bytestring_copy(&r->server_certificate, &c->server_cert);
    if (!st)
        st = ua_session_check_server_signature(c, &r->server_signature);
    if (!st) {
        ua_user_token_type want = c->cfg.user        ? UA_USER_TOKEN_TYPE_USER_NAME
                                  : c->cfg.x509_user ? UA_USER_TOKEN_TYPE_CERTIFICATE
                                                     : UA_USER_TOKEN_TYPE_ANONYMOUS;
        const ua_user_token_policy *tp = pick_token_policy(c, r, want);
        if (!tp) {
            fp_log_info("opcua", "server offers no user token policy for this identity");
            st = UA_STATUS_BAD_IDENTITY_TOKEN_REJECTED;
        } else {
            ua_user_token_policy_clear(&c->token_policy);
            st = ua_user_token_policy_copy(tp, &c->token_policy);
        }
    }
    if (!st) {
        c->revised_session_timeout_ms = ua_client_server_ms(
            r->revised_session_timeout, c->cfg.session_timeout_ms, UA_CLIENT_MAX_SERVER_MS);
        st = send_activate(c);
    }
    if (st)
        connect_done(c, st);
}

static ua_status send_create_session(ua_client *c)
{
    ua_create_session_request req;
    ua_create_session_request_init(&req);
    uint8_t nonce[32];
    if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
        return UA_STATUS_BAD_INTERNAL_ERROR;
    /* The server checks the ApplicationUri against our certificate's: a certificate of the
     * user's own (Certificate authentication, --cert) names its URI, and that one is sent. */
    char cert_uri[512];
    bool from_cert = ua_session_certificate_uri(c, cert_uri, sizeof(cert_uri));
    req.client_description.application_uri =
        ua_string_view(from_cert ? cert_uri : c->cfg.application_uri);
    req.client_description.product_uri = ua_string_view("urn:fieldplane");
    req.client_description.application_name.text = ua_string_view(c->cfg.application_name);
    req.client_description.application_type = UA_APPLICATION_TYPE_CLIENT;
    req.endpoint_url = ua_string_view(c->url);
    req.session_name = ua_string_view(c->cfg.session_name);
    req.client_nonce.length = sizeof(nonce);
    req.client_nonce.data = nonce;
    ua_session_client_certificate(c, &req.client_certificate);
    req.requested_session_timeout = c->cfg.session_timeout_ms;
    req.max_response_message_size = 0;
    memcpy(c->client_nonce, nonce, sizeof(nonce));
    /* The request only borrows views: nothing to clear. */
    return ua_client_service(c, &req, UA_TYPE(CREATE_SESSION_REQUEST),
                             UA_TYPE(CREATE_SESSION_RESPONSE), create_session_cb, NULL);
}

/* The endpoints of the discovery channel: pick ours, check the server certificate, and
 * reconnect with the real security. */
static void discovery_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    ua_get_endpoints_response *r = response;
    if (status) {
        connect_done(c, status);
        return;
    }
    const ua_endpoint_description *found = NULL;
    bool policy_seen = false;
    for (size_t i = 0; i < r->endpoints_count && !found; i++) {
        const ua_endpoint_description *e = &r->endpoints[i];
        if (!ua_string_equal(&e->security_policy_uri,
                             &(ua_string){strlen(c->policy_uri), (uint8_t *)c->policy_uri}))
            continue;
        policy_seen = true;
        if (e->security_mode == c->mode)
            found = e;
    }
    if (!found) {
        connect_done(c, policy_seen ? UA_STATUS_BAD_SECURITY_MODE_REJECTED
                                    : UA_STATUS_BAD_SECURITY_POLICY_REJECTED);
        return;
    }
    ua_status st = ua_session_set_server_certificate(c, &found->server_certificate,
                                                     &found->server.application_uri);
    if (st) {
        connect_done(c, st);
        return;
    }
    ua_conn_security sec;
    ua_session_conn_security(c, false, &sec);
    c->discovering = false;
    ua_conn_close(c->conn);
    st = ua_conn_connect(c->conn, c->url, &sec);
    if (st)
        connect_done(c, st);
}

static void client_on_open(void *ctx)
{
    ua_client *c = ctx;
    if (c->discovering) {
        ua_get_endpoints_request req;
        ua_get_endpoints_request_init(&req);
        req.endpoint_url = ua_string_view(c->url);
        ua_status st = ua_client_service(c, &req, UA_TYPE(GET_ENDPOINTS_REQUEST),
                                         UA_TYPE(GET_ENDPOINTS_RESPONSE), discovery_cb, NULL);
        if (st)
            connect_done(c, st);
        return;
    }
    if (c->cfg.no_session) {
        connect_done(c, UA_STATUS_GOOD);
        return;
    }
    /* After a reconnect, first try to take the old session over to the new channel. */
    ua_status st = c->reconnecting && c->auth_token.id_type == UA_NODEID_NUMERIC &&
                           c->auth_token.id.numeric == 0 && c->auth_token.ns == 0
                       ? send_create_session(c)
                   : c->reconnecting ? send_activate(c)
                                     : send_create_session(c);
    if (st)
        connect_done(c, st);
}

static void reconnect_timer_cb(void *ctx)
{
    ua_client *c = ctx;
    if (!c->reconnecting)
        return;
    ua_conn_security sec;
    c->discovering = ua_session_policy(c)->id != UA_POLICY_NONE;
    ua_session_conn_security(c, c->discovering, &sec);
    ua_status st = ua_conn_connect(c->conn, c->url, &sec);
    if (st)
        schedule_reconnect(c);
}

/* Try again after a delay that doubles from 250 ms up to 10 s. */
static void schedule_reconnect(ua_client *c)
{
    c->state = UA_CLIENT_CONNECTING;
    c->reconnecting = true;
    uint32_t lo = c->cfg.reconnect_min_ms ? c->cfg.reconnect_min_ms : 250;
    uint32_t hi = c->cfg.reconnect_max_ms ? c->cfg.reconnect_max_ms : 10000;
    c->reconnect_delay_ms = c->reconnect_delay_ms ? c->reconnect_delay_ms * 2 : lo;
    if (c->reconnect_delay_ms > hi)
        c->reconnect_delay_ms = hi < lo ? lo : hi;
    ua_loop_timer_init(&c->reconnect_timer, reconnect_timer_cb, c);
    ua_loop_timer_start(c->loop, &c->reconnect_timer, c->reconnect_delay_ms);
}

static void client_on_closed(void *ctx, uint32_t status)
{
    ua_client *c = ctx;
    ua_client_state before = c->state;
    if (c->cfg.reconnect && (before == UA_CLIENT_CONNECTED || c->reconnecting)) {
        /* Keep the session and the subscriptions: they may survive on the server. */
        fail_pending(c, status);
        ua_sub_on_disconnect(c);
        if (before == UA_CLIENT_CONNECTED) {
            fp_log_info("opcua", "connection to %s lost (%s), reconnecting", c->url,
                        ua_status_name(status));
            c->reconnect_delay_ms = 0;
            if (c->state_cb)
                c->state_cb(c, status, c->state_ctx);
        }
        schedule_reconnect(c);
        return;
    }
    c->state = UA_CLIENT_DISCONNECTED;
    fail_pending(c, status);
    session_clear(c);
    ua_sub_on_disconnect(c);
    if (c->state_cb && before != UA_CLIENT_DISCONNECTED)
        c->state_cb(c, status, c->state_ctx);
}

void ua_client_connection_lost(ua_client *c, ua_status why)
{
    if (c->state != UA_CLIENT_CONNECTED || !c->cfg.reconnect)
        return;
    ua_conn_close(c->conn);
    client_on_closed(c, why);
}

ua_status ua_client_connect(ua_client *c, const char *url, ua_client_state_cb cb, void *ctx)
{
    if (c->state != UA_CLIENT_DISCONNECTED)
        return UA_STATUS_BAD_INVALID_STATE;
    const ua_security_policy *policy = policy_of(c->cfg.security_policy);
    if (!policy)
        return UA_STATUS_BAD_SECURITY_POLICY_REJECTED;
    snprintf(c->policy_uri, sizeof(c->policy_uri), "%s", policy->uri);
    bool none = policy->id == UA_POLICY_NONE;
    c->mode = c->cfg.security_mode;
    if (c->mode == 0)
        c->mode = none ? UA_MESSAGE_SECURITY_MODE_NONE : UA_MESSAGE_SECURITY_MODE_SIGN_AND_ENCRYPT;
    if (c->mode < UA_MESSAGE_SECURITY_MODE_NONE ||
        c->mode > UA_MESSAGE_SECURITY_MODE_SIGN_AND_ENCRYPT ||
        (c->mode == UA_MESSAGE_SECURITY_MODE_NONE) != none)
        return UA_STATUS_BAD_SECURITY_MODE_REJECTED;
    char *url_copy = fp_strdup(url);
    if (!url_copy)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    fp_free(c->url);
    c->url = url_copy;
    ua_status st = ua_session_prepare_security(c, policy, c->mode);
    if (st)
        return st;
    c->state_cb = cb;
    c->state_ctx = ctx;
    /* A secure channel needs the server certificate first: fetch it on a None channel. */
    c->discovering = !none;
    ua_conn_security sec;
    ua_session_conn_security(c, c->discovering, &sec);
    st = ua_conn_connect(c->conn, url, &sec);
    if (st)
        return st;
    c->state = UA_CLIENT_CONNECTING;
    return UA_STATUS_GOOD;
}

typedef struct sync_connect {
    bool done;
    ua_status status;
} sync_connect;

static void sync_connect_cb(ua_client *c, ua_status status, void *ctx)
{
    sync_connect *s = ctx;
    s->done = true;
    s->status = status;
}

ua_status ua_client_connect_sync(ua_client *c, const char *url)
{
    sync_connect s = {false, UA_STATUS_GOOD};
    ua_status st = ua_client_connect(c, url, sync_connect_cb, &s);
    if (st)
        return st;
    /* Channel, CreateSession and ActivateSession each have their own timeout. */
    if (ua_loop_run_until(c->loop, &s.done, (uint64_t)c->cfg.request_timeout_ms * 3 + 5000) < 0)
        return UA_STATUS_BAD_TIMEOUT;
    /* Later state changes go nowhere: the caller polls ua_client_get_state. */
    c->state_cb = NULL;
    return s.status;
}

void ua_client_disconnect_sync(ua_client *c)
{
    if (c->state == UA_CLIENT_CONNECTED && c->session_active) {
        ua_close_session_request req;
        ua_close_session_response resp;
        ua_close_session_request_init(&req);
        req.delete_subscriptions = true;
        ua_client_service_sync(c, &req, UA_TYPE(CLOSE_SESSION_REQUEST), &resp,
                               UA_TYPE(CLOSE_SESSION_RESPONSE));
        ua_close_session_response_clear(&resp);
    }
    c->state_cb = NULL;
    c->reconnecting = false;
    ua_loop_timer_stop(c->loop, &c->reconnect_timer);
    ua_conn_close(c->conn);
    fail_pending(c, UA_STATUS_BAD_SHUTDOWN);
    session_clear(c);
    ua_sub_on_disconnect(c);
    c->state = UA_CLIENT_DISCONNECTED;
}
