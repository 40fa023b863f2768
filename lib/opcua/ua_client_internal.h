/*
 * ua_client_internal.h - what the client's source files share (not installed).
 *
 * The client object is split by concern: ua_client.c (service calls, connect and session
 * steps), ua_session.c (identity tokens, certificates and signatures of the session),
 * ua_sub.c (subscriptions and the publish loop). This header is their common ground.
 */
#ifndef UA_CLIENT_INTERNAL_H
#define UA_CLIENT_INTERNAL_H

#include <stdio.h>

#include "opcua/ua_client.h"
#include "opcua/ua_status.h"
#include "opcua/ua_types.h"
#include "ua_conn.h"

/* Outstanding calls per client: a cap so that a server that never answers cannot make the
 * client grow without bound. */
#define UA_CLIENT_MAX_PENDING 4096u

/* The longest time a server may set for the client (a revised publishing interval, keep-alive
 * period or session timeout), in milliseconds: a day is longer than any server in the field
 * uses, and keeps the timer arithmetic on it (x 1.5, x 2, + 5000) far from the range of a
 * uint64_t. */
#define UA_CLIENT_MAX_SERVER_MS 86400000.0

/* One outstanding service call. */
typedef struct ua_pending {
    struct ua_pending *next;
    struct ua_client *client;
    uint32_t request_id;
    const ua_type *resp_type;
    ua_client_service_cb cb;
    void *ctx;
    ua_loop_timer timer;
} ua_pending;

typedef struct ua_sub_state ua_sub_state;

struct ua_client {
    ua_loop *loop;
    ua_conn *conn;
    ua_client_config cfg; /* strings owned */
    char *url;
    char policy_uri[96];
    int mode;
    bool discovering; /* on the None channel that fetches the server certificate */
    ua_client_state state;
    ua_client_state_cb state_cb;
    void *state_ctx;

    /* Session. */
    bool session_active;
    ua_node_id auth_token;
    ua_node_id session_id;
    ua_bytestring server_nonce;
    ua_bytestring server_cert;
    double revised_session_timeout_ms;
    uint8_t client_nonce[32];
    void *security; /* ua_session.c: own certificate and key, server key (opaque) */

    ua_user_token_policy token_policy; /* chosen at CreateSession, reused to reactivate */

    /* Reconnect (OPC 10000-4 6.7): new channel, reactivate, or a new session. */
    bool reconnecting;
    bool freeing; /* ua_client_free is failing the pending calls: take no new ones */
    bool new_session;
    uint32_t reconnect_delay_ms;
    ua_loop_timer reconnect_timer;

    /* Cached per session (ua_client_ops.c). */
    bool limits_known;
    ua_operation_limits limits;
    ua_string *ns_array;
    size_t ns_count;

    ua_pending *pending;
    size_t n_pending; /* capped at UA_CLIENT_MAX_PENDING */
    uint32_t next_handle;
    ua_client_stats stats;

    ua_sub_state *subs; /* ua_sub.c */
};

/* ua_client.c: a service call with its own timeout (0: the configured request timeout). */
ua_status ua_client_service_ex(ua_client *c, const void *request, const ua_type *req_type,
                               const ua_type *resp_type, uint32_t timeout_ms,
                               ua_client_service_cb cb, void *ctx);

/* ua_session.c */
/* Load or create what the security needs (own certificate, trust list) before connecting. */
ua_status ua_session_prepare_security(ua_client *c, const ua_security_policy *policy, int mode);
/* The channel security for the discovery channel (None) or the real one. */
void ua_session_conn_security(ua_client *c, bool discovery, ua_conn_security *out);
/* Parse and verify the server certificate of the chosen endpoint against the trust list. */
ua_status ua_session_set_server_certificate(ua_client *c, const ua_bytestring *der,
                                            const ua_string *application_uri);
const ua_security_policy *ua_session_policy(ua_client *c);
/* Our certificate for CreateSession (a view, null when none). */
/* The ApplicationUri of the certificate the session is made with (a secure session): true
 * and the URI in buf, else false. */
bool ua_session_certificate_uri(ua_client *c, char *buf, size_t len);
void ua_session_client_certificate(ua_client *c, ua_bytestring *out);
/* Check the server's CreateSession signature over our certificate and nonce. */
ua_status ua_session_check_server_signature(ua_client *c, const ua_signature_data *sig);
/* The ActivateSession client signature (empty for policy None); out owned by the caller. */
ua_status ua_session_client_signature(ua_client *c, ua_signature_data *out);
/* The user identity token for the policy tp, and its signature for X.509; both owned by the
 * caller. */
ua_status ua_session_identity_token(ua_client *c, const ua_user_token_policy *tp,
                                    ua_extension_object *token, ua_signature_data *sig);
void ua_session_security_free(ua_client *c);

/* ua_client.c: a time in milliseconds that a server sent (a revised interval or timeout), made
 * safe to compute timers with. It is untrusted input: NaN, zero or negative gives fallback_ms
 * (what the client asked for, which must be above zero), anything above max_ms (infinity,
 * 1e300) gives max_ms. */
double ua_client_server_ms(double server_ms, double fallback_ms, double max_ms);

/* ua_client.c: treat the connection as lost (close it; reconnect when configured). */
void ua_client_connection_lost(ua_client *c, ua_status why);

/* ua_client_ops.c: forget what was cached for the session. */
void ua_client_ops_clear(ua_client *c);

/* ua_sub.c */
void ua_sub_on_disconnect(ua_client *c);
/* After reconnecting on the same session: restart the publish loop. */
void ua_sub_resume(ua_client *c);
/* After reconnecting on a new session: create the subscriptions and items again (same client
 * handles, so the caller sees no duplicates) and restart the publish loop. */
void ua_sub_recreate(ua_client *c);
void ua_sub_free_all(ua_client *c);

#endif
