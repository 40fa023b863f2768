/*
 * http_client.h - the libcurl setup shared by the HTTP and SSE connectors.
 *
 * A device endpoint's connection settings (address, authentication, TLS material,
 * timeouts) are turned once into an immutable, reference-counted fp_httpc_cfg. Each
 * poller or stream takes a reference and applies it to its own curl handle; when the
 * endpoint changes, a new snapshot replaces the old one and connections pick it up at
 * their next request or reconnect, without any lock held while a request runs.
 *
 * Authentication (documented in docs/connector-http.md):
 *   Anonymous                          no credentials
 *   UsernamePassword, "authentication" unset or "basic" in additionalConfiguration, and a
 *   non-empty username                 HTTP Basic with username and password
 *   UsernamePassword with "authentication": "bearer", or with an empty/absent username
 *                                      Authorization: Bearer <password>
 *   Certificate                        TLS client certificate (certificate + key secrets)
 * A trust list (PEM) replaces the system CA store for the endpoint.
 */
#ifndef FP_HTTP_CLIENT_H
#define FP_HTTP_CLIENT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <fieldplane/connector.h>
#include <fieldplane/fp_buf.h>
#include <fieldplane/fp_status.h>

typedef enum fp_httpc_auth {
    FP_HTTPC_AUTH_NONE = 0,
    FP_HTTPC_AUTH_BASIC,
    FP_HTTPC_AUTH_BEARER,
} fp_httpc_auth;

typedef struct fp_httpc_cfg {
    atomic_int refs;
    char *address; /* the endpoint address as written */
    fp_httpc_auth auth;
    char *username, *password; /* BASIC */
    char *bearer_header;       /* BEARER: "Authorization: Bearer <token>" */
    char *ca_pem;              /* trust list, NULL = system store */
    char *cert_pem;            /* client certificate (+ intermediates), NULL = none */
    char *key_pem;
    long timeout_ms;         /* whole request; 0 = none (streams) */
    long connect_timeout_ms; /* connection set-up */
} fp_httpc_cfg;

/* The values of the endpoint key "authentication" (NULL-terminated): the HTTP and SSE
 * connectors' rows offer them (their `choices`) and fp_httpc_cfg_new accepts exactly these. */
extern const char *const fp_httpc_auth_modes[];

/* The connection settings of ep. auth_mode is the "authentication" key of the endpoint's
 * additionalConfiguration: NULL/"" or "auto" (bearer when there is no username), "basic"
 * or "bearer". Returns NULL with a message in err for an unusable combination (an
 * unknown mode, bearer without a password, Certificate without certificate or key). */
fp_httpc_cfg *fp_httpc_cfg_new(const fp_endpoint *ep, const char *auth_mode, long timeout_ms,
                               long connect_timeout_ms, char *err, size_t err_len);
fp_httpc_cfg *fp_httpc_cfg_ref(fp_httpc_cfg *cfg);
void fp_httpc_cfg_unref(fp_httpc_cfg *cfg); /* NULL is a no-op */

/* Apply cfg to a (fresh or reset) handle: authentication, TLS, timeouts, no signals.
 * *headers gets the Authorization header when needed (plus extra, a NULL-terminated list
 * of "Name: value" lines, may be NULL); the caller frees it with curl_slist_free_all
 * after the last request. Returns FP_OK or FP_ERR_NOMEM / FP_ERR_INVALID with err. */
fp_status fp_httpc_apply(CURL *curl, const fp_httpc_cfg *cfg, const char *const *extra,
                         struct curl_slist **headers, char *err, size_t err_len);

/* base + "/" + path with exactly one '/' between them ("" path = base). fp_free it. */
char *fp_httpc_join(const char *base, const char *path);

/* The reason phrase of an HTTP status code ("Service Unavailable"), "" when unknown. */
const char *fp_httpc_reason(long code);

/* A curl write callback appending to the fp_buf given as userdata; it stops the
 * transfer (CURLE_WRITE_ERROR) when the buffer's maximum is passed. */
size_t fp_httpc_write_buf(char *ptr, size_t size, size_t nmemb, void *userdata);

/* A mutex-guarded current snapshot, for an endpoint whose settings change while
 * streams hold the old ones. */
typedef struct fp_httpc_slot {
    pthread_mutex_t lock;
    fp_httpc_cfg *cfg;
} fp_httpc_slot;

void fp_httpc_slot_init(fp_httpc_slot *s);
void fp_httpc_slot_clear(fp_httpc_slot *s);
/* Replace the snapshot (takes the caller's reference to cfg). */
void fp_httpc_slot_set(fp_httpc_slot *s, fp_httpc_cfg *cfg);
/* A new reference to the current snapshot (NULL when none). */
fp_httpc_cfg *fp_httpc_slot_get(fp_httpc_slot *s);

#endif
