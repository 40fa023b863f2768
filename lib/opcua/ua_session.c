/*
 * ua_session.c - the security parts of a session: the application instance certificate, the
 * server certificate check, the ActivateSession signatures and the identity tokens.
 *
 * With a security policy other than None the client needs its own certificate (loaded from
 * --cert/--key, or created on first use in the PKI folder) and the server's (taken from the
 * endpoint description and checked against the trust list: an unknown certificate is an error
 * unless auto-accept was asked for; there is never a silent fallback to None).
 *
 * The identity the client presents follows the server's user token policy of the endpoint in
 * use (OPC 10000-4 7.41): Anonymous, UserName (the password encrypted for the server under the
 * token policy's security policy, in clear only when that is None) or X.509 (with a signature
 * over the server certificate and nonce made with the user's key).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "opcua/ua_pki.h"
#include "ua_client_internal.h"

typedef struct ua_session_sec {
    const ua_security_policy *policy;
    ua_security_mode mode;
    ua_pki *pki;
    ua_cert *own_cert;
    ua_key *own_key;
    ua_cert *server_cert; /* verified, from the endpoint or CreateSession */
} ua_session_sec;

static ua_session_sec *sec_of(ua_client *c)
{
    if (!c->security)
        c->security = fp_calloc(1, sizeof(ua_session_sec));
    return c->security;
}

void ua_session_security_free(ua_client *c)
{
    ua_session_sec *s = c->security;
    if (!s)
        return;
    ua_pki_free(s->pki);
    ua_cert_free(s->own_cert);
    ua_key_free(s->own_key);
    ua_cert_free(s->server_cert);
    fp_free(s);
    c->security = NULL;
}

const ua_security_policy *ua_session_policy(ua_client *c)
{
    ua_session_sec *s = c->security;
    return s ? s->policy : NULL;
}

/* The trust list folder: the configured one, or $HOME/.fieldplane/opcua-pki. */
static ua_status open_pki(ua_client *c, ua_session_sec *s)
{
    if (s->pki)
        return UA_STATUS_GOOD;
    char dir[1024];
    if (c->cfg.pki_dir) {
        snprintf(dir, sizeof(dir), "%s", c->cfg.pki_dir);
    } else {
        const char *home = getenv("HOME");
        int n = snprintf(dir, sizeof(dir), "%s/.fieldplane/opcua-pki", home ? home : ".");
        if (n < 0 || (size_t)n >= sizeof(dir))
            return UA_STATUS_BAD_CONFIGURATION_ERROR;
    }
    ua_pki_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.version = UA_PKI_OPTIONS_VERSION;
    opt.auto_accept = c->cfg.auto_accept;
    return ua_pki_open(dir, &opt, &s->pki);
}

/* Load or create our certificate and key. */
static ua_status load_own_certificate(ua_client *c, ua_session_sec *s)
{
    if (s->own_cert)
        return UA_STATUS_GOOD;
    ua_status st;
    if (c->cfg.cert_file || c->cfg.key_file) {
        if (!c->cfg.cert_file || !c->cfg.key_file) {
            fp_log_error("opcua", "--cert and --key go together");
            return UA_STATUS_BAD_CONFIGURATION_ERROR;
        }
        st = ua_cert_load(c->cfg.cert_file, &s->own_cert);
        if (!st)
            st = ua_key_load(c->cfg.key_file, &s->own_key);
        if (!st && !ua_cert_matches_key(s->own_cert, s->own_key)) {
            fp_log_error("opcua", "%s does not belong to %s", c->cfg.key_file, c->cfg.cert_file);
            st = UA_STATUS_BAD_CONFIGURATION_ERROR;
        }
    } else {
        char host[256] = "localhost";
        gethostname(host, sizeof(host) - 1);
        ua_cert_params params;
        memset(&params, 0, sizeof(params));
        params.application_uri = c->cfg.application_uri;
        params.common_name = c->cfg.application_name;
        params.organization = "Fieldplane";
        params.dns_name = host;
        st = ua_pki_own_certificate(s->pki, &params, &s->own_cert, &s->own_key);
    }
    if (st) {
        fp_log_error("opcua", "no application instance certificate: %s", ua_status_name(st));
        ua_cert_free(s->own_cert);
        ua_key_free(s->own_key);
        s->own_cert = NULL;
        s->own_key = NULL;
    }
    return st;
}

ua_status ua_session_prepare_security(ua_client *c, const ua_security_policy *policy, int mode)
{
    ua_session_sec *s = sec_of(c);
    if (!s)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    s->policy = policy;
    s->mode = (ua_security_mode)mode;
    ua_cert_free(s->server_cert);
    s->server_cert = NULL;
    bool need_cert = policy->id != UA_POLICY_NONE || c->cfg.x509_user;
    if (!need_cert && !c->cfg.user)
        return UA_STATUS_GOOD;
    /* The PKI serves the server check (and a UserName password needs the server's key). */
    ua_status st = open_pki(c, s);
    if (!st && need_cert)
        st = load_own_certificate(c, s);
    return st;
}

void ua_session_conn_security(ua_client *c, bool discovery, ua_conn_security *out)
{
    ua_session_sec *s = c->security;
    memset(out, 0, sizeof(*out));
    if (discovery || !s || s->policy->id == UA_POLICY_NONE) {
        out->policy = ua_policy_by_id(UA_POLICY_NONE);
        out->mode = UA_SECURITY_MODE_NONE;
        return;
    }
    out->policy = s->policy;
    out->mode = s->mode;
    out->local_cert = s->own_cert;
    out->local_key = s->own_key;
    out->remote_cert = s->server_cert;
}

ua_status ua_session_set_server_certificate(ua_client *c, const ua_bytestring *der,
                                            const ua_string *application_uri)
{
    ua_session_sec *s = sec_of(c);
    if (!s)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    if (!der->data || der->length == 0)
        return UA_STATUS_BAD_CERTIFICATE_INVALID;
    ua_cert *cert = NULL;
    ua_status st = ua_cert_from_bytes(der->data, der->length, &cert);
    if (st)
        return st;
    st = open_pki(c, s);
    char *uri =
        application_uri && application_uri->data ? ua_string_dup_cstr(application_uri) : NULL;
    if (!st) {
        ua_pki_verify_params vp;
        memset(&vp, 0, sizeof(vp));
        vp.role = UA_CERT_ROLE_SERVER;
        vp.application_uri = uri;
        vp.policy = s->policy && s->policy->id != UA_POLICY_NONE ? s->policy : NULL;
        st = ua_pki_verify(s->pki, cert, &vp);
        if (st)
            fp_log_error("opcua",
                         "server certificate rejected: %s (trust it in %s/trusted/certs "
                         "or use auto-accept)",
                         ua_status_name(st), ua_pki_dir(s->pki));
    }
    fp_free(uri);
    if (st) {
        ua_cert_free(cert);
        return st;
    }
    ua_cert_free(s->server_cert);
    s->server_cert = cert;
    return UA_STATUS_GOOD;
}

bool ua_session_certificate_uri(ua_client *c, char *buf, size_t len)
{
    ua_session_sec *s = c->security;
    return s && s->own_cert && s->policy->id != UA_POLICY_NONE &&
           ua_cert_application_uri(s->own_cert, buf, len) == UA_STATUS_GOOD;
}

void ua_session_client_certificate(ua_client *c, ua_bytestring *out)
{
    ua_session_sec *s = c->security;
    out->length = 0;
    out->data = NULL;
    if (s && s->own_cert && s->policy->id != UA_POLICY_NONE) {
        size_t len;
        const uint8_t *der = ua_cert_der(s->own_cert, &len);
        out->data = (uint8_t *)der;
        out->length = len;
    }
}

ua_status ua_session_check_server_signature(ua_client *c, const ua_signature_data *sig)
{
    ua_session_sec *s = c->security;
    if (!s || s->policy->id == UA_POLICY_NONE)
        return UA_STATUS_GOOD;
    /* The server signs our certificate and nonce with the key of its certificate. */
    ua_cert *server = NULL;
    ua_status st = ua_cert_from_bytes(c->server_cert.data, c->server_cert.length, &server);
    if (st)
        return UA_STATUS_BAD_CERTIFICATE_INVALID;
    size_t der_len;
    const uint8_t *der = ua_cert_der(s->own_cert, &der_len);
    st = ua_session_verify(s->policy, ua_cert_key(server), der, der_len, c->client_nonce,
                           sizeof(c->client_nonce), sig->signature.data, sig->signature.length);
    ua_cert_free(server);
    return st ? UA_STATUS_BAD_APPLICATION_SIGNATURE_INVALID : UA_STATUS_GOOD;
}

/* Sign the server certificate and nonce of CreateSession with key under policy. */
static ua_status sign_server_nonce(ua_client *c, const ua_security_policy *policy,
                                   const ua_key *key, ua_signature_data *out)
{
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    ua_status st = ua_session_sign(policy, key, c->server_cert.data, c->server_cert.length,
                                   c->server_nonce.data, c->server_nonce.length, &sig, &sig_len);
    if (st)
        return st;
    out->signature.data = sig;
    out->signature.length = sig_len;
    st = ua_string_from(&out->algorithm, policy->asym_sig_uri);
    if (st)
        ua_signature_data_clear(out);
    return st;
}

ua_status ua_session_client_signature(ua_client *c, ua_signature_data *out)
{
    ua_session_sec *s = c->security;
    ua_signature_data_init(out);
    if (!s || s->policy->id == UA_POLICY_NONE)
        return UA_STATUS_GOOD;
    return sign_server_nonce(c, s->policy, s->own_key, out);
}

/* The security policy a user token is protected with: the token policy's own, or the
 * channel's when the token policy names none. NULL when the URI is unknown. */
static const ua_security_policy *token_policy(ua_client *c, const ua_user_token_policy *tp)
{
    const ua_string *u = &tp->security_policy_uri;
    if (!u->data || u->length == 0) {
        ua_session_sec *s = c->security;
        return s && s->policy ? s->policy : ua_policy_by_id(UA_POLICY_NONE);
    }
    return ua_policy_by_uri_len((const char *)u->data, u->length);
}

/* The server certificate's key, from CreateSession, for encrypting the password. */
static ua_status server_key_cert(ua_client *c, ua_cert **out)
{
    *out = NULL;
    if (!c->server_cert.data || c->server_cert.length == 0)
        return UA_STATUS_BAD_CERTIFICATE_INVALID;
    return ua_cert_from_bytes(c->server_cert.data, c->server_cert.length, out);
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
    const ua_security_policy *pol = token_policy(c, tp);
    if (!pol) {
        fp_log_info("opcua", "the user token policy names an unknown security policy");
        return UA_STATUS_BAD_SECURITY_POLICY_REJECTED;
    }
    if (tp->token_type == UA_USER_TOKEN_TYPE_USER_NAME) {
        ua_user_name_identity_token t;
        ua_user_name_identity_token_init(&t);
        t.policy_id = tp->policy_id;
        t.user_name = ua_string_view(c->cfg.user);
        const char *password = c->cfg.password ? c->cfg.password : "";
        if (pol->id == UA_POLICY_NONE) {
            t.password = ua_string_view(password);
            return ua_extension_object_set_copy(token, &t, UA_TYPE(USER_NAME_IDENTITY_TOKEN));
        }
        ua_cert *server = NULL;
        st = server_key_cert(c, &server);
        uint8_t *cipher = NULL;
        size_t cipher_len = 0;
        if (!st)
            st = ua_password_encrypt(pol, ua_cert_key(server), (const uint8_t *)password,
                                     strlen(password), c->server_nonce.data, c->server_nonce.length,
                                     &cipher, &cipher_len);
        ua_cert_free(server);
        if (st)
            return st;
        t.password.data = cipher;
        t.password.length = cipher_len;
        t.encryption_algorithm = ua_string_view(pol->asym_enc_uri);
        st = ua_extension_object_set_copy(token, &t, UA_TYPE(USER_NAME_IDENTITY_TOKEN));
        fp_free(cipher);
        return st;
    }
    if (tp->token_type == UA_USER_TOKEN_TYPE_CERTIFICATE) {
        ua_session_sec *s = c->security;
        if (!s || !s->own_cert || pol->id == UA_POLICY_NONE)
            return UA_STATUS_BAD_IDENTITY_TOKEN_REJECTED;
        /* The certificate with the intermediates its file carried: the server builds the
         * path to the CA it trusts from them. */
        size_t der_len;
        uint8_t *der = NULL;
        st = ua_cert_chain_der(s->own_cert, &der, &der_len);
        if (st)
            return st;
        ua_x509_identity_token t;
        ua_x509_identity_token_init(&t);
        t.policy_id = tp->policy_id;
        t.certificate_data.data = der;
        t.certificate_data.length = der_len;
        st = ua_extension_object_set_copy(token, &t, UA_TYPE(X509_IDENTITY_TOKEN));
        fp_free(der);
        if (!st)
            st = sign_server_nonce(c, pol, s->own_key, sig);
        return st;
    }
    return UA_STATUS_BAD_IDENTITY_TOKEN_REJECTED;
}
