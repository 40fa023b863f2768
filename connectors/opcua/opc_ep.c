/*
 * opc_ep.c - an OPC UA endpoint of the connector: its loop, its session, its strand.
 *
 * Each device endpoint of type Microsoft.OpcUa owns a ua_loop and one ua_client. It has no
 * thread of its own: everything that touches them runs on the endpoint's strand, which the
 * runtime's worker pool serves one callback at a time. The runtime watches the loop's
 * descriptor (ua_loop_fd: readable on socket events and when one of its timers is due) and
 * runs on_loop_ready on the strand, which does one non-blocking pass of the loop and then
 * opc_ep_settle. The runtime's other callbacks (datasets, event groups, actions, endpoint
 * update and remove) are on the same strand, so they call into the client directly and end
 * with opc_ep_settle too; a *_sync call inside them runs the loop nested, which is allowed
 * because a strand callback may block (the pool grows) and no other callback of the
 * endpoint runs meanwhile. Connect retries and the session keep-alive are ua_loop timers,
 * so they too arrive through the descriptor.
 *
 * The first connection is retried by this file with a delay that starts at
 * session.reconnectPeriodMilliseconds and doubles up to
 * session.reconnectExponentialBackOffMilliseconds, with a fresh client each time (so a
 * changed trust list or a fixed server is seen). Once a session was up, the client reconnects
 * by itself and transfers or recreates its subscriptions with the same client handles
 * (ua_client.h); the modules are told of the loss and of the new session, and create on it
 * only what was never on the server, so no item or subscription is ever doubled.
 *
 * The client's state callback can fire inside any *_sync call (they run the loop), so it only
 * records what happened (and clears ep->connected, which the modules check between calls);
 * opc_ep_settle acts on it once the outermost callback is done, so the modules' hooks
 * (on_connected, on_lost) never run in the middle of their own work.
 *
 * Subscriptions are shared: opc_sub_get hands out a subscription of the asked publishing
 * interval with room left under subscription.maxItems, creating one when needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fieldplane/fp_status.h>
#include <fieldplane/fp_alloc.h>
#include <fieldplane/fp_log.h>
#include "opc_internal.h"
#include "opcua/ua_crypto.h"
#include "opcua/ua_nodeid.h"
#include "opcua/ua_nodeids.h"

#define LOG_MOD "opcua"

/* What a client is made from: copied out of the fp_endpoint, whose strings the runtime
 * swaps on an update. */
typedef struct ep_settings {
    char *url;
    char *user;
    char *password;
    char *policy; /* short name for the client, NULL: None */
    int mode;     /* 0 (the client's default for the policy), 1 None, 2 Sign, 3 SignAndEncrypt */
    bool x509;    /* Certificate authentication */
    char *cert_pem;
    char *key_pem;
    char *trust_pem;
} ep_settings;

/* The endpoint with the state only this file uses; ep first, so a pointer converts. */
typedef struct ep_priv {
    opc_ep ep;
    char label[256]; /* ns/device/endpoint, for logs */
    char data_dir[512];
    ep_settings set;
    char why[1024]; /* why the endpoint is down (ep->last_error holds its start) */
    /* Connect state. */
    bool client_up_once; /* this client had a session: it reconnects by itself */
    uint64_t retry_delay_ms;
    bool retry_due;
    ua_loop_timer retry_timer;
    ua_loop_timer keepalive_timer;
    bool keepalive_outstanding;
    /* What the state callback saw, acted on by opc_ep_settle. */
    bool ev_up, ev_down, ev_failed;
    ua_status ev_status;
} ep_priv;

static void connect_start(ep_priv *p);

/* ------------------------------------------------------------------------ settings */

static void settings_clear(ep_settings *s)
{
    fp_free(s->url);
    fp_free(s->user);
    if (s->password)
        explicit_bzero(s->password, strlen(s->password));
    fp_free(s->password);
    fp_free(s->policy);
    fp_free(s->cert_pem);
    if (s->key_pem)
        explicit_bzero(s->key_pem, strlen(s->key_pem));
    fp_free(s->key_pem);
    fp_free(s->trust_pem);
    memset(s, 0, sizeof *s);
}

/* Accept a policy's URI (http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256) or its
 * short name, the part after '#', in any case; the canonical short name, or NULL. */
static const char *policy_name(const char *z)
{
    for (size_t i = 0; ua_policy_uris[i]; i++) {
        const char *uri = ua_policy_uris[i];
        const char *name = strrchr(uri, '#') + 1;
        if (!strcasecmp(z, uri) || !strcasecmp(z, name))
            return name;
    }
    return NULL;
}

static char *dup_or_null(const char *z, bool *oom)
{
    if (!z)
        return NULL;
    char *d = fp_strdup(z);
    if (!d)
        *oom = true;
    return d;
}

/* Read the client settings from pub; err says what was wrong. 0 or -1. */
static int settings_load(const fp_endpoint *pub, ep_settings *s, char *err, size_t err_len)
{
    const opc_ep_cfg *cfg = pub->config;
    const char *policy = NULL;
    char names[256];
    bool oom = false;

    memset(s, 0, sizeof *s);
    if (strncmp(pub->address, "opc.tcp://", 10) != 0) {
        fp_set_err(err, err_len, "address \"%s\" is not an opc.tcp:// URL", pub->address);
        return -1;
    }
    if (cfg && cfg->security_policy && cfg->security_policy[0]) {
        policy = policy_name(cfg->security_policy);
        if (!policy) {
            fp_choices_text(ua_policy_uris, names, sizeof names);
            fp_set_err(err, err_len,
                       "security.securityPolicy \"%s\" is not one of %s (or the name after "
                       "'#')",
                       cfg->security_policy, names);
            return -1;
        }
    }
    if (cfg && cfg->security_mode && cfg->security_mode[0]) {
        size_t i = 0;
        while (opc_security_modes[i] && strcasecmp(cfg->security_mode, opc_security_modes[i]))
            i++;
        if (!opc_security_modes[i]) {
            fp_choices_text(opc_security_modes, names, sizeof names);
            fp_set_err(err, err_len, "security.securityMode \"%s\" is not one of %s",
                       cfg->security_mode, names);
            return -1;
        }
        s->mode = (int)i + 1; /* MessageSecurityMode */
    }
    bool none = !policy || !strcmp(policy, "None");
    if (none && s->mode > 1) {
        fp_set_err(err, err_len,
                   "security.securityMode %s needs a security.securityPolicy other than None",
                   cfg->security_mode);
        return -1;
    }
    if (!none && s->mode == 1) {
        fp_set_err(err, err_len,
                   "security.securityMode none goes only with the None policy, not %s", policy);
        return -1;
    }
    switch (pub->auth) {
    case FP_AUTH_USERNAME_PASSWORD:
        if (!pub->username || !pub->password) {
            fp_set_err(err, err_len,
                       "UsernamePassword authentication without a resolved username and password "
                       "secret");
            return -1;
        }
        break;
    case FP_AUTH_CERTIFICATE:
        if (!pub->cert_pem || !pub->key_pem) {
            fp_set_err(err, err_len,
                       "Certificate authentication needs x509Credentials.certificateSecretName and "
                       "keySecretName");
            return -1;
        }
        break;
    default:
        break;
    }
    s->url = dup_or_null(pub->address, &oom);
    s->policy = dup_or_null(none ? NULL : policy, &oom);
    if (pub->auth == FP_AUTH_USERNAME_PASSWORD) {
        s->user = dup_or_null(pub->username, &oom);
        s->password = dup_or_null(pub->password, &oom);
    } else if (pub->auth == FP_AUTH_CERTIFICATE) {
        s->x509 = true;
        /* The intermediates (x509Credentials.intermediateCertificatesSecretName) follow the
         * certificate in its file: the identity token then carries them. */
        if (pub->intermediate_pem && *pub->intermediate_pem) {
            size_t a = strlen(pub->cert_pem), b = strlen(pub->intermediate_pem);
            s->cert_pem = fp_malloc(a + b + 2);
            if (s->cert_pem)
                snprintf(s->cert_pem, a + b + 2, "%s%s%s", pub->cert_pem,
                         a && pub->cert_pem[a - 1] != '\n' ? "\n" : "", pub->intermediate_pem);
            else
                oom = true;
        } else {
            s->cert_pem = dup_or_null(pub->cert_pem, &oom);
        }
        s->key_pem = dup_or_null(pub->key_pem, &oom);
    }
    s->trust_pem = dup_or_null(pub->trust_list_pem, &oom);
    if (oom) {
        settings_clear(s);
        fp_set_err(err, err_len, "out of memory");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------- files */

/* Write len bytes to path with mode (replacing it atomically). 0 or -errno. */
static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    char tmp[700];
    int fd, rc = 0;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        data += n;
        len -= (size_t)n;
    }
    if (fchmod(fd, mode) < 0 && !rc)
        rc = -errno;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

static int mkdir_p(const char *dir)
{
    char buf[600];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *q = buf + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -errno;
        *q = '/';
    }
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* A file name from the endpoint's identity: letters, digits, '-', '_' and '.' kept. */
static void file_tag(const fp_endpoint *pub, char *out, size_t cap)
{
    size_t n = 0;
    const char *parts[3] = {pub->ns, pub->device, pub->name};

    for (int i = 0; i < 3 && n + 1 < cap; i++) {
        if (i)
            out[n++] = '.';
        for (const char *z = parts[i]; *z && n + 1 < cap; z++)
            out[n++] = (char)((*z >= 'a' && *z <= 'z') || (*z >= 'A' && *z <= 'Z') ||
                                      (*z >= '0' && *z <= '9') || *z == '-' || *z == '_'
                                  ? *z
                                  : '_');
    }
    out[n] = '\0';
}

/* The device's trust list into <pki>/trusted/certs, and Certificate authentication's secrets
 * into files only we can read. On the strand. */
static int write_endpoint_files(ep_priv *p, const fp_endpoint *pub, char *err, size_t err_len)
{
    opc_ep *ep = &p->ep;
    char tag[200], path[700], dir[600];
    int rc = -ENAMETOOLONG;

    file_tag(pub, tag, sizeof tag);
    if (snprintf(dir, sizeof dir, "%s/trusted/certs", ep->pki_dir) >= (int)sizeof dir ||
        (rc = mkdir_p(dir)) < 0) {
        fp_set_err(err, err_len, "cannot create %s: %s", dir, strerror(-rc));
        return -1;
    }
    if (snprintf(path, sizeof path, "%s/device-%s.pem", dir, tag) >= (int)sizeof path) {
        fp_set_err(err, err_len, "the data directory's path is too long");
        return -1;
    }
    if (p->set.trust_pem && p->set.trust_pem[0]) {
        rc = write_file(path, p->set.trust_pem, strlen(p->set.trust_pem), 0644);
        if (rc < 0) {
            fp_set_err(err, err_len, "cannot write the trust list to %s: %s", path, strerror(-rc));
            return -1;
        }
    } else {
        unlink(path); /* the device no longer names a trust list */
    }
    ep->user_cert_file[0] = ep->user_key_file[0] = '\0';
    if (!p->set.x509)
        return 0;
    rc = -ENAMETOOLONG;
    if (snprintf(dir, sizeof dir, "%s/credentials", p->data_dir) >= (int)sizeof dir ||
        (rc = mkdir_p(dir)) < 0) {
        fp_set_err(err, err_len, "cannot create %s: %s", dir, strerror(-rc));
        return -1;
    }
    if (snprintf(ep->user_cert_file, sizeof ep->user_cert_file, "%s/%s.cert.pem", dir, tag) >=
            (int)sizeof ep->user_cert_file ||
        snprintf(ep->user_key_file, sizeof ep->user_key_file, "%s/%s.key.pem", dir, tag) >=
            (int)sizeof ep->user_key_file) {
        fp_set_err(err, err_len, "the data directory's path is too long");
        return -1;
    }
    rc = write_file(ep->user_cert_file, p->set.cert_pem, strlen(p->set.cert_pem), 0600);
    if (!rc)
        rc = write_file(ep->user_key_file, p->set.key_pem, strlen(p->set.key_pem), 0600);
    if (rc < 0) {
        fp_set_err(err, err_len, "cannot write the X.509 credentials under %s: %s", dir,
                   strerror(-rc));
        return -1;
    }
    return 0;
}

/* The endpoint is gone: its trust list no longer applies, its credentials go too. */
static void remove_endpoint_files(ep_priv *p, const fp_endpoint *pub)
{
    char tag[200], path[700];

    file_tag(pub, tag, sizeof tag);
    if (snprintf(path, sizeof path, "%s/trusted/certs/device-%s.pem", p->ep.pki_dir, tag) <
        (int)sizeof path)
        unlink(path);
    if (p->ep.user_cert_file[0])
        unlink(p->ep.user_cert_file);
    if (p->ep.user_key_file[0])
        unlink(p->ep.user_key_file);
}

/* ------------------------------------------------------------------------ health */

/* Set the reason the endpoint is down (p->why, and its start in ep->last_error). */
static void set_why(ep_priv *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_why(ep_priv *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof p->why, fmt, ap);
    va_end(ap);
    memcpy(p->ep.last_error, p->why, sizeof p->ep.last_error - 1);
    p->ep.last_error[sizeof p->ep.last_error - 1] = '\0';
}

/* Why the endpoint is down, as health and in last_error. */
static void report_down(ep_priv *p, ua_status st, bool lost)
{
    opc_ep *ep = &p->ep;
    const char *name = ua_status_name(st);

    if (st == UA_STATUS_BAD_CERTIFICATE_UNTRUSTED)
        set_why(p,
                "the server certificate of %s is not trusted (a copy is in %s/rejected): find it "
                "with `fieldplane-connector-opcua trust list --data %s` and trust it with "
                "`fieldplane-connector-opcua trust accept THUMBPRINT --data %s` (or trust add "
                "FILE), put it in the device's trust list, or set "
                "security.autoAcceptUntrustedServerCertificates",
                p->set.url, ep->pki_dir, p->data_dir, p->data_dir);
    else if (lost)
        set_why(p, "connection to %s lost: %s (%s); reconnecting", p->set.url, name,
                ua_status_description(st));
    else
        set_why(p, "cannot connect to %s: %s (%s)", p->set.url, name, ua_status_description(st));
    fp_endpoint_health(ep->pub, false, name, "%s", p->why);
}

/* ------------------------------------------------------------------- the client */

static void on_state(ua_client *c, ua_status st, void *ctx)
{
    ep_priv *p = ctx;

    (void)c;
    if (st == UA_STATUS_GOOD) {
        p->ep.connected = true;
        p->client_up_once = true;
        p->ev_up = true;
        return;
    }
    p->ev_status = st;
    if (p->client_up_once) {
        p->ep.connected = false;
        p->ev_down = true;
    } else {
        p->ev_failed = true;
    }
}

static void retry_timer_cb(void *ctx)
{
    ep_priv *p = ctx;
    p->retry_due = true;
}

/* After a failed first connect: the next attempt after the back-off. */
static void schedule_retry(ep_priv *p)
{
    const opc_ep_cfg *cfg = p->ep.cfg;
    uint64_t period =
        cfg && cfg->reconnect_period_ms > 0 ? (uint64_t)cfg->reconnect_period_ms : 2000;
    uint64_t max =
        cfg && cfg->reconnect_backoff_ms > 0 ? (uint64_t)cfg->reconnect_backoff_ms : 10000;

    if (max < period)
        max = period;
    p->retry_delay_ms = p->retry_delay_ms ? p->retry_delay_ms * 2 : period;
    if (p->retry_delay_ms > max)
        p->retry_delay_ms = max;
    ua_loop_timer_start(p->ep.loop, &p->retry_timer, p->retry_delay_ms);
}

static void keepalive_read_cb(ua_client *c, ua_status status, void *response, void *ctx)
{
    ep_priv *p = ctx;
    (void)c, (void)response;
    p->keepalive_outstanding = false;
    if (status)
        fp_log_debug(LOG_MOD, "%s: session keep-alive read: %s", p->label, ua_status_name(status));
}

/* Without subscriptions nothing would keep the session from timing out on the server: read
 * ServerStatus.State every session.keepAliveIntervalMilliseconds. */
static void keepalive_timer_cb(void *ctx)
{
    ep_priv *p = ctx;
    opc_ep *ep = &p->ep;
    const opc_ep_cfg *cfg = ep->cfg;

    if (!ep->client || !ep->connected)
        return;
    if (!ep->subs && !p->keepalive_outstanding) {
        ua_read_request req;
        ua_read_value_id id;
        ua_read_request_init(&req);
        ua_read_value_id_init(&id);
        id.node_id.id_type = UA_NODEID_NUMERIC;
        id.node_id.id.numeric = UA_NS0ID_SERVER_SERVER_STATUS_STATE;
        id.attribute_id = UA_ATTR_VALUE;
        req.nodes_to_read = &id;
        req.nodes_to_read_count = 1;
        if (ua_client_service(ep->client, &req, UA_TYPE(READ_REQUEST), UA_TYPE(READ_RESPONSE),
                              keepalive_read_cb, p) == UA_STATUS_GOOD)
            p->keepalive_outstanding = true;
    }
    ua_loop_timer_start(ep->loop, &p->keepalive_timer,
                        cfg && cfg->session_keepalive_ms > 0 ? (uint64_t)cfg->session_keepalive_ms
                                                             : 10000);
}

/* A new client with the current settings, and its first connect. */
static void connect_start(ep_priv *p)
{
    opc_ep *ep = &p->ep;
    const opc_ep_cfg *cfg = ep->cfg;
    ua_client_config cc;
    ua_status st;

    memset(&cc, 0, sizeof cc);
    cc.security_policy = p->set.policy;
    cc.security_mode = p->set.mode;
    cc.user = p->set.user;
    cc.password = p->set.password;
    if (p->set.x509 && ep->user_cert_file[0]) {
        cc.cert_file = ep->user_cert_file;
        cc.key_file = ep->user_key_file;
        cc.x509_user = true;
    }
    cc.pki_dir = ep->pki_dir;
    cc.auto_accept = cfg ? cfg->auto_accept : false;
    cc.application_name =
        cfg && cfg->application_name && cfg->application_name[0] ? cfg->application_name : NULL;
    cc.application_uri = NULL; /* one URI for the one own certificate of all endpoints */
    cc.session_timeout_ms =
        cfg && cfg->session_timeout_ms > 0 ? (uint32_t)cfg->session_timeout_ms : 60000;
    cc.request_timeout_ms = 10000;
    cc.reconnect = true;
    /* A lost session is retried as a failed first connect is. */
    cc.reconnect_min_ms =
        cfg && cfg->reconnect_period_ms > 0 ? (uint32_t)cfg->reconnect_period_ms : 2000;
    cc.reconnect_max_ms =
        cfg && cfg->reconnect_backoff_ms > 0 ? (uint32_t)cfg->reconnect_backoff_ms : 10000;

    p->retry_due = false;
    p->client_up_once = false;
    p->ev_up = p->ev_down = p->ev_failed = false;
    ep->connected = false;
    ep->client = ua_client_new(ep->loop, &cc);
    if (!ep->client) {
        st = UA_STATUS_BAD_OUT_OF_MEMORY;
        goto out_failed;
    }
    fp_log_info(LOG_MOD, "%s: connecting to %s (%s, %s)", p->label, p->set.url,
                p->set.policy ? p->set.policy : "None",
                p->set.mode == 2                                      ? "Sign"
                : p->set.mode == 3 || (p->set.policy && !p->set.mode) ? "SignAndEncrypt"
                                                                      : "None");
    st = ua_client_connect(ep->client, p->set.url, on_state, p);
    if (st)
        goto out_failed;
    return;

out_failed:
    ua_client_free(ep->client);
    ep->client = NULL;
    report_down(p, st, false);
    opc_data_on_lost(ep, p->why);
    opc_events_on_lost(ep, p->why);
    schedule_retry(p);
}

/* Drop the client: CloseSession (which deletes the subscriptions on the server) when
 * close is true, then free it and every subscription with it. */
static void session_stop(ep_priv *p, bool close)
{
    opc_ep *ep = &p->ep;

    ua_loop_timer_stop(ep->loop, &p->retry_timer);
    ua_loop_timer_stop(ep->loop, &p->keepalive_timer);
    if (ep->client && close && ep->connected)
        ua_client_disconnect_sync(ep->client);
    ua_client_free(ep->client);
    ep->client = NULL;
    ep->connected = false;
    p->keepalive_outstanding = false;
    /* The subscriptions went with the client. The opc_sub objects stay until every item
     * on them is released: event items learn of it in opc_events_on_connected (sub NULL). */
    for (opc_sub *s = ep->subs; s; s = s->next)
        s->sub = NULL;
    opc_data_on_reset(ep);
}

/* Act on what the state callback recorded. */
static void handle_events(ep_priv *p)
{
    opc_ep *ep = &p->ep;

    if (p->ev_failed) {
        p->ev_failed = false;
        ua_status st = p->ev_status;
        fp_log_warn(LOG_MOD, "%s: cannot connect to %s: %s", p->label, p->set.url,
                    ua_status_name(st));
        ua_client_free(ep->client);
        ep->client = NULL;
        report_down(p, st, false);
        opc_data_on_lost(ep, p->why);
        opc_events_on_lost(ep, p->why);
        opc_discovery_on_connect_failed(ep);
        schedule_retry(p);
    }
    if (p->ev_down) {
        p->ev_down = false;
        fp_log_warn(LOG_MOD, "%s: connection lost: %s", p->label, ua_status_name(p->ev_status));
        report_down(p, p->ev_status, true);
        opc_data_on_lost(ep, p->why);
        opc_events_on_lost(ep, p->why);
    }
    if (p->ev_up) {
        p->ev_up = false;
        if (!ep->connected)
            return; /* lost again already; the next Good brings us here */
        ep->ever_connected = true;
        ep->connects++;
        p->retry_delay_ms = 0;
        ep->last_error[0] = '\0';
        fp_log_info(LOG_MOD, "%s: session up on %s (%" PRIu64 ")", p->label, p->set.url,
                    ep->connects);
        fp_endpoint_health(ep->pub, true, "Connected", "session on %s (%s)", p->set.url,
                           p->set.policy ? p->set.policy : "no security");
        opc_data_on_connected(ep);
        opc_events_on_connected(ep);
        opc_discovery_on_connected(ep);
        if (!ua_loop_timer_active(&p->keepalive_timer))
            keepalive_timer_cb(p);
    }
}

/* ---------------------------------------------------------------------- the strand */

void opc_ep_settle(opc_ep *ep)
{
    ep_priv *p = (ep_priv *)ep;

    /* Acting on one record can run the loop again (the modules' *_sync calls when a session
     * comes up) and record the next; each pass clears what it saw, and a session that came
     * up and went is seen as down, so this ends. */
    while (p->ev_failed || p->ev_down || p->ev_up)
        handle_events(p);
    if (p->retry_due && !ep->client) {
        connect_start(p);
        while (p->ev_failed || p->ev_down || p->ev_up)
            handle_events(p);
    }
    opc_data_flush(ep);
}

/* The loop's descriptor is readable: one pass of the loop without waiting. The watch is
 * one-shot until this returns, and the strand keeps every other callback of the endpoint
 * out meanwhile. */
static void on_loop_ready(void *arg, uint32_t revents)
{
    ep_priv *p = arg;
    int rc;

    (void)revents;
    rc = ua_loop_run_once(p->ep.loop, 0);
    if (rc < 0)
        fp_log_error(LOG_MOD, "%s: event loop failed: %s", p->label, strerror(-rc));
    opc_ep_settle(&p->ep);
}

/* --------------------------------------------------------------- subscriptions */

static void route_data(ua_subscription *s, uint32_t handle, void *item_ctx,
                       const ua_data_value *value, void *ctx)
{
    opc_sub *sub = ctx;
    opc_item_ref *ref = item_ctx;

    (void)s, (void)handle;
    if (!ref)
        return;
    if (ref->kind == OPC_ITEM_DATA)
        opc_data_on_change(sub->ep, ref, value);
}

static void route_event(ua_subscription *s, uint32_t handle, void *item_ctx,
                        const ua_variant *fields, size_t n, void *ctx)
{
    opc_sub *sub = ctx;
    opc_item_ref *ref = item_ctx;

    (void)s, (void)handle;
    if (ref && ref->kind == OPC_ITEM_EVENT)
        opc_events_on_event(sub->ep, ref, fields, n);
}

opc_sub *opc_sub_get(opc_ep *ep, double publishing_ms, size_t n, char *err, size_t err_len)
{
    const opc_ep_cfg *cfg = ep->cfg;
    size_t max_items = cfg && cfg->sub_max_items > 0 ? (size_t)cfg->sub_max_items : 1000;
    double keep_ms = cfg && cfg->keep_alive_ms > 0 ? (double)cfg->keep_alive_ms : 10000;
    double life_ms = cfg && cfg->sub_lifetime_ms > 0 ? (double)cfg->sub_lifetime_ms : 60000;
    ua_subscription_params sp;
    opc_sub *sub;
    ua_status st;

    if (publishing_ms <= 0)
        publishing_ms = 1; /* "as fast as practical": the server revises it to its fastest */
    if (n > max_items) {
        fp_set_err(err, err_len,
                   "%zu items do not fit one subscription (subscription.maxItems %zu)", n,
                   max_items);
        return NULL;
    }
    if (!ep->client || !ep->connected) {
        fp_set_err(err, err_len, "%s", ep->last_error[0] ? ep->last_error : "not connected");
        return NULL;
    }
    for (sub = ep->subs; sub; sub = sub->next)
        if (sub->sub && sub->publishing_ms == publishing_ms && sub->n_items + n <= max_items) {
            sub->n_items += n;
            return sub;
        }
    sub = fp_calloc(1, sizeof *sub);
    if (!sub) {
        fp_set_err(err, err_len, "out of memory");
        return NULL;
    }
    sub->ep = ep;
    sub->publishing_ms = publishing_ms;
    memset(&sp, 0, sizeof sp);
    sp.publishing_interval_ms = publishing_ms;
    /* Keep-alive and lifetime are counted in publishing intervals. */
    double ka = keep_ms / publishing_ms;
    sp.max_keepalive_count = ka < 1 ? 1 : ka > 100000 ? 100000 : (uint32_t)ka;
    double lt = life_ms / publishing_ms;
    if (lt < 3.0 * sp.max_keepalive_count)
        lt = 3.0 * sp.max_keepalive_count;
    sp.lifetime_count = lt > 4000000000.0 ? 4000000000u : (uint32_t)lt;
    sp.on_data_change = route_data;
    sp.on_event = route_event;
    sp.ctx = sub;
    st = ua_subscription_create_sync(ep->client, &sp, &sub->sub);
    if (st) {
        fp_set_err(err, err_len, "CreateSubscription (%g ms): %s", publishing_ms,
                   ua_status_name(st));
        fp_free(sub);
        return NULL;
    }
    sub->n_items = n;
    sub->next = ep->subs;
    ep->subs = sub;
    fp_log_debug(LOG_MOD, "subscription at %g ms created", publishing_ms);
    return sub;
}

void opc_sub_release(opc_ep *ep, opc_sub *sub, size_t n)
{
    if (!sub)
        return;
    sub->n_items = n >= sub->n_items ? 0 : sub->n_items - n;
    if (sub->n_items > 0)
        return;
    for (opc_sub **pp = &ep->subs; *pp; pp = &(*pp)->next)
        if (*pp == sub) {
            *pp = sub->next;
            break;
        }
    if (sub->sub) {
        ua_status st = ua_subscription_delete_sync(sub->sub);
        if (st && st != UA_STATUS_BAD_NOT_CONNECTED)
            fp_log_info(LOG_MOD, "DeleteSubscriptions: %s", ua_status_name(st));
    }
    fp_free(sub);
}

ua_status opc_parse_node_id(opc_ep *ep, const char *z, ua_node_id *out)
{
    if (ep->client && ep->connected)
        return ua_client_parse_node_id(ep->client, z, out);
    if (strncmp(z, "nsu=", 4) == 0) {
        ua_node_id_init(out);
        return UA_STATUS_BAD_NOT_CONNECTED;
    }
    return ua_node_id_parse(out, z, NULL, 0);
}

/* -------------------------------------------------------- endpoint callbacks */

static void ep_free(ep_priv *p)
{
    opc_ep *ep = &p->ep;

    /* The watch goes first: it names the loop's descriptor, which ua_loop_free closes. */
    fp_fd_unwatch(ep->watch);
    ep->watch = NULL;
    if (ep->loop) {
        ua_loop_timer_stop(ep->loop, &p->retry_timer);
        ua_loop_timer_stop(ep->loop, &p->keepalive_timer);
        ua_loop_free(ep->loop);
    }
    while (ep->subs) {
        opc_sub *s = ep->subs;
        ep->subs = s->next;
        fp_free(s);
    }
    settings_clear(&p->set);
    fp_free(p);
}

int opc_endpoint_add(fp_endpoint *pub)
{
    const char *data = fp_rt_data_dir(fp_rt_get());
    char err[512];
    ep_priv *p = fp_calloc(1, sizeof *p);
    opc_ep *ep;
    int fd;

    if (!p)
        return -1;
    ep = &p->ep;
    ep->pub = pub;
    ep->cfg = pub->config;
    ua_loop_timer_init(&p->retry_timer, retry_timer_cb, p);
    ua_loop_timer_init(&p->keepalive_timer, keepalive_timer_cb, p);
    snprintf(p->label, sizeof p->label, "%s/%s/%s", pub->ns, pub->device, pub->name);
    snprintf(p->data_dir, sizeof p->data_dir, "%s", data ? data : ".");
    if (snprintf(ep->pki_dir, sizeof ep->pki_dir, "%s/pki", p->data_dir) >=
        (int)sizeof ep->pki_dir) {
        fp_log_error(LOG_MOD, "%s: the data directory's path is too long", p->label);
        goto out_free;
    }
    if (settings_load(pub, &p->set, err, sizeof err) ||
        write_endpoint_files(p, pub, err, sizeof err)) {
        fp_endpoint_health(pub, false, "BadConfiguration", "%s", err);
        fp_log_error(LOG_MOD, "%s: %s", p->label, err);
        goto out_free;
    }
    ep->loop = ua_loop_new();
    fd = ep->loop ? ua_loop_fd(ep->loop) : -ENOMEM;
    if (fd >= 0)
        ep->watch = fp_fd_watch_add(pub, fd, FP_FD_READ, on_loop_ready, p);
    if (!ep->watch) {
        fp_log_error(LOG_MOD, "%s: cannot create the event loop%s%s", p->label,
                     fd < 0 ? ": " : " (no fd watch)", fd < 0 ? strerror(-fd) : "");
        goto out_free;
    }
    fp_endpoint_health(pub, false, "Connecting", "connecting to %s", p->set.url);
    pub->user = ep;
    connect_start(p);
    opc_ep_settle(ep);
    return 0;

out_free:
    ep_free(p);
    return -1;
}

/* Drop the session, take the new settings, connect again. The datasets and event groups stay
 * in their modules and are created again on the new session by the on_connected hooks. */
static void restart(ep_priv *p, ep_settings *set, const opc_ep_cfg *cfg)
{
    opc_ep *ep = &p->ep;
    char err[512];

    session_stop(p, true);
    settings_clear(&p->set);
    p->set = *set;
    memset(set, 0, sizeof *set);
    ep->cfg = cfg;
    p->retry_delay_ms = 0;
    /* What the old client recorded is about a session that no longer exists. */
    p->ev_up = p->ev_down = p->ev_failed = false;
    if (write_endpoint_files(p, ep->pub, err, sizeof err)) {
        fp_endpoint_health(ep->pub, false, "BadConfiguration", "%s", err);
        set_why(p, "%s", err);
        schedule_retry(p);
        return;
    }
    fp_endpoint_health(ep->pub, false, "Connecting", "connecting to %s", p->set.url);
    connect_start(p);
}

int opc_endpoint_update(fp_endpoint *pub, const fp_endpoint *old)
{
    ep_priv *p = pub->user;
    ep_settings set;
    char err[512];

    (void)old;
    if (!p)
        return opc_endpoint_add(pub);
    if (settings_load(pub, &set, err, sizeof err)) {
        fp_log_error(LOG_MOD, "%s: %s", p->label, err);
        /* Refused: the runtime removes the datasets, events and actions, then the endpoint
         * (opc_endpoint_remove closes the session of the old settings), and adds it again
         * later from nothing. */
        fp_endpoint_health(pub, false, "BadConfiguration", "%s", err);
        return -1;
    }
    fp_log_info(LOG_MOD, "%s: settings changed: new session", p->label);
    restart(p, &set, pub->config);
    settings_clear(&set);
    opc_ep_settle(&p->ep);
    return 0;
}

void opc_endpoint_remove(fp_endpoint *pub)
{
    ep_priv *p = pub->user;
    opc_ep *ep;

    if (!p)
        return;
    ep = &p->ep;
    /* Nothing of the endpoint runs from here on: on_loop_ready is not running (we are on the
     * strand) and will not run again. */
    fp_fd_unwatch(ep->watch);
    ep->watch = NULL;
    session_stop(p, true);
    opc_data_free_all(ep);
    opc_events_free_all(ep);
    opc_discovery_free(ep);
    remove_endpoint_files(p, pub);
    ep_free(p);
    pub->user = NULL;
}
