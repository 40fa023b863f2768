/*
 * ua_session.c - the security parts of a session: identity tokens, the client certificate
 * and the ActivateSession signatures.
 *
 * The identity the client presents follows the server's user token policy of the endpoint in
 * use (OPC 10000-4 7.41): Anonymous, UserName or X.509. A password is only ever sent in
 * clear when both the channel and the token policy say None; whenever the token policy asks
 * for encryption and this build cannot provide it, activation fails with
 * BadSecurityPolicyRejected rather than falling back to a weaker form.
 */
#include <string.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "ua_client_internal.h"

#define POLICY_NONE_URI "http://opcfoundation.org/UA/SecurityPolicy#None"

ua_status ua_session_prepare_security(ua_client *c)
{
    if (strcmp(c->policy_uri, POLICY_NONE_URI) != 0 || c->cfg.x509_user)
        return UA_STATUS_BAD_SECURITY_POLICY_REJECTED;
    return UA_STATUS_GOOD;
}

void ua_session_client_certificate(ua_client *c, ua_bytestring *out)
{
    out->length = 0;
    out->data = NULL;
}

ua_status ua_session_client_signature(ua_client *c, ua_signature_data *out)
{
    ua_signature_data_init(out);
    return UA_STATUS_GOOD;
}

/* True when the token policy's security policy is None (or absent, meaning the channel's). */
static bool token_policy_is_none(const ua_client *c, const ua_user_token_policy *tp)
{
    const ua_string *u = &tp->security_policy_uri;
    if (!u->data || u->length == 0)
        return strcmp(c->policy_uri, POLICY_NONE_URI) == 0;
    return u->length == strlen(POLICY_NONE_URI) && !memcmp(u->data, POLICY_NONE_URI, u->length);
}

ua_status ua_session_identity_token(ua_client *c, const ua_user_token_policy *tp,
                                    ua_extension_object *token, ua_signature_data *sig)
{
    ua_status st;
    ua_signature_data_init(sig);
    if (tp->token_type == UA_USER_TOKEN_TYPE_ANONYMOUS) {
        ua_anonymous_identity_token t;
        ua_anonymous_identity_token_init(&t);
        t.policy_id = tp->policy_id; /* borrowed: set_copy copies it */
        return ua_extension_object_set_copy(token, &t, UA_TYPE(ANONYMOUS_IDENTITY_TOKEN));
    }
    if (tp->token_type == UA_USER_TOKEN_TYPE_USER_NAME) {
        if (!token_policy_is_none(c, tp)) {
            fp_log_info("opcua", "the server wants the password encrypted, which needs a "
                                 "security policy this build lacks");
            return UA_STATUS_BAD_SECURITY_POLICY_REJECTED;
        }
        ua_user_name_identity_token t;
        ua_user_name_identity_token_init(&t);
        t.policy_id = tp->policy_id;
        t.user_name = ua_string_view(c->cfg.user);
        t.password = ua_string_view(c->cfg.password ? c->cfg.password : "");
        st = ua_extension_object_set_copy(token, &t, UA_TYPE(USER_NAME_IDENTITY_TOKEN));
        return st;
    }
    return UA_STATUS_BAD_IDENTITY_TOKEN_REJECTED;
}

void ua_session_security_free(ua_client *c)
{
    c->security = NULL;
}
