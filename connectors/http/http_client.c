/*
 * http_client.c - connection settings snapshots and curl handle setup for the HTTP
 * and SSE connectors (see http_client.h).
 */
#include "http_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <fieldplane/fp_alloc.h>
#include <fieldplane/fp_status.h>

const char *const fp_httpc_auth_modes[] = {"auto", "basic", "bearer", NULL};

/* fp_strdup of a string that may be NULL; *ok turns false when a copy failed. */
static char *dup_opt(const char *z, bool *ok)
{
    char *c;

    if (!z)
        return NULL;
    c = fp_strdup(z);
    if (!c)
        *ok = false;
    return c;
}

static bool empty(const char *z)
{
    return !z || !*z;
}

/* Decide BASIC or BEARER for UsernamePassword (see the header's table). */
static fp_status pick_user_auth(const fp_endpoint *ep, const char *mode, fp_httpc_auth *out,
                                char *err, size_t err_len)
{
    if (!strcasecmp(mode, "basic")) {
        if (!ep->username && !ep->password) {
            fp_set_err(err, err_len,
                       "authentication \"basic\": the username and password secrets are not set");
            return FP_ERR_INVALID;
        }
        *out = FP_HTTPC_AUTH_BASIC;
    } else if (!strcasecmp(mode, "bearer") || empty(ep->username)) {
        if (empty(ep->password)) {
            fp_set_err(err, err_len,
                       "bearer authentication needs the token in the password secret, which is %s",
                       ep->password ? "empty" : "not set");
            return FP_ERR_INVALID;
        }
        if (strpbrk(ep->password, "\r\n")) {
            fp_set_err(err, err_len, "the bearer token (password secret) contains a line break");
            return FP_ERR_INVALID;
        }
        *out = FP_HTTPC_AUTH_BEARER;
    } else {
        *out = FP_HTTPC_AUTH_BASIC;
    }
    return FP_OK;
}

fp_httpc_cfg *fp_httpc_cfg_new(const fp_endpoint *ep, const char *auth_mode, long timeout_ms,
                               long connect_timeout_ms, char *err, size_t err_len)
{
    const char *mode = empty(auth_mode) ? "auto" : auth_mode;
    fp_httpc_cfg *c;
    bool ok = true;
    size_t i = 0;

    while (fp_httpc_auth_modes[i] && strcasecmp(mode, fp_httpc_auth_modes[i]))
        i++;
    if (!fp_httpc_auth_modes[i]) {
        char modes[64];
        fp_choices_text(fp_httpc_auth_modes, modes, sizeof modes);
        fp_set_err(err, err_len,
                   "additionalConfiguration.authentication: expected %s, found \"%s\"", modes,
                   mode);
        return NULL;
    }
    if (empty(ep->address)) {
        fp_set_err(err, err_len, "the endpoint has no address");
        return NULL;
    }
    if (strncasecmp(ep->address, "http://", 7) && strncasecmp(ep->address, "https://", 8)) {
        fp_set_err(err, err_len, "address \"%s\": expected an http:// or https:// URL",
                   ep->address);
        return NULL;
    }
    c = fp_calloc(1, sizeof *c);
    if (!c)
        goto out_nomem;
    atomic_init(&c->refs, 1);
    c->timeout_ms = timeout_ms;
    c->connect_timeout_ms = connect_timeout_ms;
    c->address = dup_opt(ep->address, &ok);

    switch (ep->auth) {
    case FP_AUTH_ANONYMOUS:
        if (strcasecmp(mode, "auto")) {
            fp_set_err(err, err_len,
                       "authentication \"%s\" needs the authentication method UsernamePassword "
                       "(the endpoint is Anonymous)",
                       mode);
            goto out_free;
        }
        c->auth = FP_HTTPC_AUTH_NONE;
        break;
    case FP_AUTH_USERNAME_PASSWORD:
        if (pick_user_auth(ep, mode, &c->auth, err, err_len))
            goto out_free;
        if (c->auth == FP_HTTPC_AUTH_BASIC) {
            c->username = dup_opt(ep->username ? ep->username : "", &ok);
            c->password = dup_opt(ep->password ? ep->password : "", &ok);
        } else {
            size_t n = strlen(ep->password) + 32;
            c->bearer_header = fp_malloc(n);
            if (c->bearer_header)
                snprintf(c->bearer_header, n, "Authorization: Bearer %s", ep->password);
            else
                ok = false;
        }
        break;
    case FP_AUTH_CERTIFICATE:
        if (empty(ep->cert_pem) || empty(ep->key_pem)) {
            fp_set_err(err, err_len,
                       "authentication method Certificate: the %s secret is not set or empty",
                       empty(ep->cert_pem) ? "certificate" : "key");
            goto out_free;
        }
        if (strcasecmp(mode, "auto")) {
            fp_set_err(err, err_len,
                       "authentication \"%s\" needs the authentication method UsernamePassword "
                       "(the endpoint uses Certificate)",
                       mode);
            goto out_free;
        }
        c->auth = FP_HTTPC_AUTH_NONE;
        break;
    }
    /* A client certificate is sent whenever one is configured, with its intermediates. */
    if (!empty(ep->cert_pem) && !empty(ep->key_pem)) {
        fp_buf b;
        fp_buf_init(&b, 16u * 1024 * 1024);
        fp_buf_append_str(&b, ep->cert_pem);
        if (!empty(ep->intermediate_pem)) {
            if (ep->cert_pem[strlen(ep->cert_pem) - 1] != '\n')
                fp_buf_append_str(&b, "\n");
            fp_buf_append_str(&b, ep->intermediate_pem);
        }
        if (b.err)
            ok = false;
        c->cert_pem = fp_buf_take(&b, NULL);
        c->key_pem = dup_opt(ep->key_pem, &ok);
    }
    if (!empty(ep->trust_list_pem))
        c->ca_pem = dup_opt(ep->trust_list_pem, &ok);
    if (!ok)
        goto out_nomem;
    return c;

out_nomem:
    fp_set_err(err, err_len, "out of memory");
out_free:
    fp_httpc_cfg_unref(c);
    return NULL;
}

fp_httpc_cfg *fp_httpc_cfg_ref(fp_httpc_cfg *cfg)
{
    if (cfg)
        atomic_fetch_add(&cfg->refs, 1);
    return cfg;
}

void fp_httpc_cfg_unref(fp_httpc_cfg *cfg)
{
    if (!cfg || atomic_fetch_sub(&cfg->refs, 1) != 1)
        return;
    fp_free(cfg->address);
    fp_free(cfg->username);
    if (cfg->password)
        memset(cfg->password, 0, strlen(cfg->password));
    fp_free(cfg->password);
    if (cfg->bearer_header)
        memset(cfg->bearer_header, 0, strlen(cfg->bearer_header));
    fp_free(cfg->bearer_header);
    fp_free(cfg->ca_pem);
    fp_free(cfg->cert_pem);
    if (cfg->key_pem)
        memset(cfg->key_pem, 0, strlen(cfg->key_pem));
    fp_free(cfg->key_pem);
    fp_free(cfg);
}

/* Set a PEM blob option (copied by curl). */
static CURLcode set_blob(CURL *curl, CURLoption opt, const char *pem)
{
    struct curl_blob blob = {.data = (void *)pem, .len = strlen(pem), .flags = CURL_BLOB_COPY};
    return curl_easy_setopt(curl, opt, &blob);
}

fp_status fp_httpc_apply(CURL *curl, const fp_httpc_cfg *cfg, const char *const *extra,
                         struct curl_slist **headers, char *err, size_t err_len)
{
    struct curl_slist *h = NULL, *t;
    CURLcode rc = CURLE_OK;

    *headers = NULL;
    rc |= curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
    rc |= curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    rc |= curl_easy_setopt(curl, CURLOPT_USERAGENT, "fieldplane-connector/" FP_VERSION);
    if (cfg->auth == FP_HTTPC_AUTH_BASIC) {
        rc |= curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        rc |= curl_easy_setopt(curl, CURLOPT_USERNAME, cfg->username);
        rc |= curl_easy_setopt(curl, CURLOPT_PASSWORD, cfg->password);
    }
    if (cfg->ca_pem)
        rc |= set_blob(curl, CURLOPT_CAINFO_BLOB, cfg->ca_pem);
    if (cfg->cert_pem) {
        rc |= set_blob(curl, CURLOPT_SSLCERT_BLOB, cfg->cert_pem);
        rc |= curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
        rc |= set_blob(curl, CURLOPT_SSLKEY_BLOB, cfg->key_pem);
        rc |= curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (rc != CURLE_OK) {
        fp_set_err(err, err_len,
                   "libcurl refused the connection settings (TLS options unsupported?)");
        return FP_ERR_INVALID;
    }
    if (cfg->bearer_header) {
        t = curl_slist_append(h, cfg->bearer_header);
        if (!t)
            goto out_nomem;
        h = t;
    }
    for (size_t i = 0; extra && extra[i]; i++) {
        t = curl_slist_append(h, extra[i]);
        if (!t)
            goto out_nomem;
        h = t;
    }
    if (h && curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h) != CURLE_OK)
        goto out_nomem;
    *headers = h;
    return FP_OK;

out_nomem:
    curl_slist_free_all(h);
    fp_set_err(err, err_len, "out of memory");
    return FP_ERR_NOMEM;
}

char *fp_httpc_join(const char *base, const char *path)
{
    size_t nb = strlen(base), np;
    char *out;

    while (nb > 0 && base[nb - 1] == '/')
        nb--;
    while (*path == '/')
        path++;
    np = strlen(path);
    if (np == 0) {
        /* Nothing to add: the address as written (with its trailing '/', if any). */
        return fp_strdup(base);
    }
    out = fp_malloc(nb + 1 + np + 1);
    if (!out)
        return NULL;
    memcpy(out, base, nb);
    out[nb] = '/';
    memcpy(out + nb + 1, path, np + 1);
    return out;
}

const char *fp_httpc_reason(long code)
{
    static const struct {
        long code;
        const char *text;
    } k_reasons[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof k_reasons / sizeof k_reasons[0]; i++)
        if (k_reasons[i].code == code)
            return k_reasons[i].text;
    return "";
}

size_t fp_httpc_write_buf(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    fp_buf *b = userdata;

    if (fp_buf_append(b, ptr, size * nmemb))
        return 0;
    return size * nmemb;
}

void fp_httpc_slot_init(fp_httpc_slot *s)
{
    pthread_mutex_init(&s->lock, NULL);
    s->cfg = NULL;
}

void fp_httpc_slot_clear(fp_httpc_slot *s)
{
    fp_httpc_cfg_unref(s->cfg);
    s->cfg = NULL;
    pthread_mutex_destroy(&s->lock);
}

void fp_httpc_slot_set(fp_httpc_slot *s, fp_httpc_cfg *cfg)
{
    fp_httpc_cfg *old;

    pthread_mutex_lock(&s->lock);
    old = s->cfg;
    s->cfg = cfg;
    pthread_mutex_unlock(&s->lock);
    fp_httpc_cfg_unref(old);
}

fp_httpc_cfg *fp_httpc_slot_get(fp_httpc_slot *s)
{
    fp_httpc_cfg *c;

    pthread_mutex_lock(&s->lock);
    c = fp_httpc_cfg_ref(s->cfg);
    pthread_mutex_unlock(&s->lock);
    return c;
}
