/*
 * rt_secrets.c - the secret references of an inbound endpoint, resolved through the
 * registry.
 *
 * An endpoint names its secrets (username, password, certificate, key, intermediate
 * certificates, trust list) as "name" or "name/key"; the runtime reads them with its token
 * and hands the values to the connector. A secret that does not exist is an error on the
 * endpoint, not a failure of the runtime; a registry that cannot answer decides nothing.
 * The values' digest goes into the endpoint's diff inputs, so a changed secret restarts the
 * endpoint without the values ever being compared or logged. Split out of rt_model.c.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fp_alloc.h"
#include "fp_json.h"
#include "fp_log.h"
#include "fp_sha256.h"
#include "rt_internal.h"

/* ---- secrets ----------------------------------------------------------------------------------
 */

void rt_secrets_free(rt_secrets *sec)
{
    if (!sec)
        return;
    char **all[] = {&sec->username, &sec->password,     &sec->cert,
                    &sec->key,      &sec->intermediate, &sec->trust};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (*all[i]) {
            /* Secrets do not linger in freed memory. */
            volatile char *p = *all[i];
            while (*p)
                *p++ = 0;
            fp_free(*all[i]);
        }
    }
    fp_free(sec);
}

/* The secret references of an endpoint, by the slot they resolve into. */
typedef struct secret_ref {
    const char *ref;
    const char *field;
    char **slot;
} secret_ref;

static size_t secret_refs(const json_t *ep_json, rt_secrets *sec, secret_ref refs[6])
{
    const json_t *auth = json_object_get(ep_json, "authentication");
    const char *method = rt_jstr(auth, "method");
    size_t n = 0;
    rt_secrets dummy;
    if (!sec)
        sec = &dummy;
    if (method && !strcasecmp(method, "UsernamePassword")) {
        const json_t *up = json_object_get(auth, "usernamePasswordCredentials");
        refs[n++] = (secret_ref){rt_jstr(up, "usernameSecretName"),
                                 "usernamePasswordCredentials.usernameSecretName", &sec->username};
        refs[n++] = (secret_ref){rt_jstr(up, "passwordSecretName"),
                                 "usernamePasswordCredentials.passwordSecretName", &sec->password};
    } else if (method && !strcasecmp(method, "Certificate")) {
        const json_t *x = json_object_get(auth, "x509Credentials");
        refs[n++] = (secret_ref){rt_jstr(x, "certificateSecretName"),
                                 "x509Credentials.certificateSecretName", &sec->cert};
        refs[n++] =
            (secret_ref){rt_jstr(x, "keySecretName"), "x509Credentials.keySecretName", &sec->key};
        refs[n++] =
            (secret_ref){rt_jstr(x, "intermediateCertificatesSecretName"),
                         "x509Credentials.intermediateCertificatesSecretName", &sec->intermediate};
    }
    refs[n++] = (secret_ref){rt_jstr(json_object_get(ep_json, "trustSettings"), "trustList"),
                             "trustSettings.trustList", &sec->trust};
    return n;
}

bool rt_secrets_refer(const json_t *ep_json, const char *name)
{
    secret_ref refs[6];
    size_t n = secret_refs(ep_json, NULL, refs);
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        const char *r = refs[i].ref;
        if (r && !strncmp(r, name, len) && (r[len] == '\0' || r[len] == '/'))
            return true;
    }
    return false;
}

fp_status rt_secrets_resolve(fp_rt *rt, const char *ns, const json_t *ep_json, rt_secrets **out)
{
    rt_secrets *sec = fp_calloc(1, sizeof *sec);
    if (!sec)
        return FP_ERR_NOMEM;
    secret_ref refs[6];
    size_t n = secret_refs(ep_json, sec, refs);
    for (size_t i = 0; i < n; i++) {
        if (!refs[i].ref || !*refs[i].ref)
            continue;
        char err[512] = "";
        fp_status st = fpc_reg_secret(rt->reg, ns, refs[i].ref, refs[i].slot, err, sizeof err);
        if (st == FP_OK)
            continue;
        if (st == FP_ERR_UNAVAILABLE || st == FP_ERR_NOMEM) {
            rt_secrets_free(sec);
            return st;
        }
        char msg[700];
        snprintf(msg, sizeof msg, "%s: secret \"%s\" %s (%s)", refs[i].field, refs[i].ref,
                 st == FP_ERR_NOT_FOUND ? "not found" : "cannot be read", err);
        rt_error_set(&sec->error, st == FP_ERR_NOT_FOUND ? "SecretNotFound" : "SecretError", msg);
        break;
    }
    *out = sec;
    return FP_OK;
}

/* A digest of the resolved values, so a changed secret changes the endpoint's canon
 * without the canon holding the secret itself. */
void rt_secrets_digest(const rt_secrets *sec, char hex[65])
{
    unsigned char md[32];
    fp_sha256_ctx ctx;
    fp_sha256_init(&ctx);
    const char *all[] = {sec->username, sec->password,     sec->cert,
                         sec->key,      sec->intermediate, sec->trust};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *v = all[i] ? all[i] : "";
        uint64_t len = all[i] ? strlen(v) + 1 : 0; /* NULL and "" differ */
        fp_sha256_update(&ctx, &len, sizeof len);
        fp_sha256_update(&ctx, v, strlen(v));
    }
    fp_sha256_final(&ctx, md);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}
