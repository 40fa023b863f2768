/*
 * ua_pki.c - application instance certificates and the trust list folder.
 *
 * Creates the self-signed certificate a client presents when the user gives
 * none, reads and writes certificates and keys, and decides whether a peer's
 * certificate is trusted from the folder layout described in ua_pki.h.
 * Chain building and signature, time and CRL checks are OpenSSL's
 * X509_verify_cert; the OPC UA rules around it (trust means the certificate or
 * one of its issuers is in trusted/, issuers/ only helps to build chains,
 * URI, host name and key usage checks, rejected/ and auto-accept) are here.
 */
#include "opcua/ua_pki.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "ua_crypto_internal.h"

#define PKI_PATH_MAX 4096
#define PKI_FILE_MAX (1u << 20) /* certificates, keys and CRLs are far smaller */
#define UA_PKI_REJECTED_MAX 256 /* certificates kept in rejected/ */
#define OWN_CERT "own/certs/cert.der"
#define OWN_KEY "own/private/key.pem"

static const char *const pki_subdirs[] = {
    "own",         "own/certs", "own/private",   "trusted",     "trusted/certs",
    "trusted/crl", "issuers",   "issuers/certs", "issuers/crl", "rejected",
};

struct ua_pki {
    char *dir;
    ua_pki_options opt;
};

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */

/* dir + "/" + name into buf; false when it does not fit. */
static bool join_path(char *buf, size_t buf_len, const char *dir, const char *name)
{
    int n = snprintf(buf, buf_len, "%s/%s", dir, name);
    return n > 0 && (size_t)n < buf_len;
}

/* Read a whole (small) file. *out is fp_malloc'd. */
static uint32_t read_file(const char *path, uint8_t **out, size_t *out_len)
{
    FILE *f;
    uint8_t *buf;
    size_t n;

    *out = NULL;
    *out_len = 0;
    f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? UA_STATUS_BAD_NOT_FOUND : UA_STATUS_BAD_CONFIGURATION_ERROR;
    buf = fp_malloc(PKI_FILE_MAX);
    if (!buf) {
        fclose(f);
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    }
    n = fread(buf, 1, PKI_FILE_MAX, f);
    if (ferror(f) || (n == PKI_FILE_MAX && fgetc(f) != EOF) || n == 0) {
        fclose(f);
        fp_free(buf);
        return UA_STATUS_BAD_CONFIGURATION_ERROR;
    }
    fclose(f);
    *out = buf;
    *out_len = n;
    return UA_STATUS_GOOD;
}

/* Write p[0..len) to path through a temporary file and rename. */
static uint32_t write_file(const char *path, const uint8_t *p, size_t len, mode_t mode)
{
    char tmp[PKI_PATH_MAX];
    int fd, n;
    size_t done = 0;

    n = snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    if (n <= 0 || (size_t)n >= sizeof tmp)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        fp_log_warn("opcua", "cannot create %s: %s", tmp, strerror(errno));
        return UA_STATUS_BAD_CONFIGURATION_ERROR;
    }
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fp_log_warn("opcua", "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return UA_STATUS_BAD_CONFIGURATION_ERROR;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        fp_log_warn("opcua", "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return UA_STATUS_BAD_CONFIGURATION_ERROR;
    }
    return UA_STATUS_GOOD;
}

static bool ends_with(const char *z, const char *suffix)
{
    size_t n = strlen(z), m = strlen(suffix);
    return n >= m && strcasecmp(z + n - m, suffix) == 0;
}

uint32_t ua_cert_load(const char *path, ua_cert **out)
{
    uint8_t *buf;
    size_t len;
    uint32_t rc;

    if (!path || !out)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *out = NULL;
    rc = read_file(path, &buf, &len);
    if (rc != UA_STATUS_GOOD)
        return rc;
    rc = ua_cert_from_bytes(buf, len, out);
    fp_free(buf);
    return rc;
}

uint32_t ua_key_load(const char *path, ua_key **out)
{
    uint8_t *buf;
    size_t len;
    uint32_t rc;

    if (!path || !out)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *out = NULL;
    rc = read_file(path, &buf, &len);
    if (rc != UA_STATUS_GOOD)
        return rc;
    rc = ua_key_from_bytes(buf, len, out);
    OPENSSL_cleanse(buf, len);
    fp_free(buf);
    return rc;
}

uint32_t ua_cert_save(const ua_cert *cert, const char *path)
{
    BIO *bio;
    BUF_MEM *mem = NULL;
    uint32_t rc;

    if (!cert || !path)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (!ends_with(path, ".pem"))
        return write_file(path, cert->der, cert->der_len, 0644);
    bio = BIO_new(BIO_s_mem());
    if (!bio)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    if (PEM_write_bio_X509(bio, cert->x509) != 1 || BIO_get_mem_ptr(bio, &mem) != 1 || !mem) {
        BIO_free(bio);
        ERR_clear_error();
        return UA_STATUS_BAD_ENCODING_ERROR;
    }
    rc = write_file(path, (const uint8_t *)mem->data, mem->length, 0644);
    BIO_free(bio);
    return rc;
}

uint32_t ua_key_save(const ua_key *key, const char *path)
{
    uint8_t *buf;
    size_t len;
    uint32_t rc;

    if (!key || !path)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    rc = ua_key_to_bytes(key, !ends_with(path, ".der"), &buf, &len);
    if (rc != UA_STATUS_GOOD)
        return rc;
    rc = write_file(path, buf, len, 0600);
    OPENSSL_cleanse(buf, len);
    fp_free(buf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Self-signed certificates                                                  */
/* ------------------------------------------------------------------------ */

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int ok;

    if (!ext)
        return 0;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* subjectAltName with the URI and, when given, the DNS name (or IP address).
 * Built from GENERAL_NAMEs rather than a configuration string so that commas
 * in URIs cannot be misread. */
static int add_san(X509 *x, const char *uri, const char *dns)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn;
    ASN1_IA5STRING *s;
    int ok = 0;

    if (!gens)
        return 0;
    gn = GENERAL_NAME_new();
    s = ASN1_IA5STRING_new();
    if (!gn || !s || !ASN1_STRING_set(s, uri, (int)strlen(uri))) {
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(s);
        goto out;
    }
    GENERAL_NAME_set0_value(gn, GEN_URI, s);
    if (!sk_GENERAL_NAME_push(gens, gn)) {
        GENERAL_NAME_free(gn);
        goto out;
    }
    if (dns && *dns) {
        gn = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_IPADD, dns, 0);
        if (!gn) {
            ERR_clear_error();
            gn = GENERAL_NAME_new();
            s = ASN1_IA5STRING_new();
            if (!gn || !s || !ASN1_STRING_set(s, dns, (int)strlen(dns))) {
                GENERAL_NAME_free(gn);
                ASN1_IA5STRING_free(s);
                goto out;
            }
            GENERAL_NAME_set0_value(gn, GEN_DNS, s);
        }
        if (!sk_GENERAL_NAME_push(gens, gn)) {
            GENERAL_NAME_free(gn);
            goto out;
        }
    }
    ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
out:
    GENERAL_NAMES_free(gens);
    return ok;
}

static int set_name(X509_NAME *name, const ua_cert_params *params)
{
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    (const unsigned char *)params->common_name, -1, -1, 0))
        return 0;
    if (params->organization && *params->organization &&
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                    (const unsigned char *)params->organization, -1, -1, 0))
        return 0;
    if (params->dns_name && *params->dns_name &&
        !X509_NAME_add_entry_by_txt(name, "DC", MBSTRING_UTF8,
                                    (const unsigned char *)params->dns_name, -1, -1, 0))
        return 0;
    return 1;
}

uint32_t ua_cert_create_self_signed(const ua_cert_params *params, ua_cert **cert, ua_key **key)
{
    ua_key *k = NULL;
    X509 *x = NULL;
    X509_NAME *name = NULL;
    BIGNUM *serial = NULL;
    X509V3_CTX ctx;
    time_t nb;
    long days;
    uint32_t rc;

    if (!params || !cert || !key || !params->application_uri || !*params->application_uri ||
        !params->common_name || !*params->common_name)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *cert = NULL;
    *key = NULL;
    days = params->valid_days ? params->valid_days : 5 * 365;
    if (days < 0 || days > 100 * 366)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    rc = ua_key_generate_rsa(params->key_bits ? params->key_bits : 2048, &k);
    if (rc != UA_STATUS_GOOD)
        return rc;
    rc = UA_STATUS_BAD_INTERNAL_ERROR;
    x = X509_new();
    name = X509_NAME_new();
    serial = BN_new();
    if (!x || !name || !serial)
        goto out;
    nb = params->not_before ? params->not_before : time(NULL) - 3600;
    if (X509_set_version(x, X509_VERSION_3) != 1 ||
        BN_rand(serial, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), nb) ||
        !ASN1_TIME_adj(X509_getm_notAfter(x), nb, (int)days, 0))
        goto out;
    if (!set_name(name, params) || X509_set_subject_name(x, name) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, k->pkey) != 1)
        goto out;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x, &ctx, NID_key_usage,
                 "critical,digitalSignature,nonRepudiation,keyEncipherment,"
                 "dataEncipherment,keyCertSign") ||
        !add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth") ||
        !add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
        !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
        !add_san(x, params->application_uri, params->dns_name))
        goto out;
    if (X509_sign(x, k->pkey, EVP_sha256()) <= 0)
        goto out;
    *cert = ua_cert_wrap(x);
    x = NULL; /* taken, or freed on failure */
    if (!*cert) {
        rc = UA_STATUS_BAD_OUT_OF_MEMORY;
        goto out;
    }
    *key = k;
    k = NULL;
    rc = UA_STATUS_GOOD;
out:
    BN_free(serial);
    X509_NAME_free(name);
    X509_free(x);
    ua_key_free(k);
    ERR_clear_error();
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The folder                                                                */
/* ------------------------------------------------------------------------ */

static uint32_t mkdir_p(const char *path)
{
    char buf[PKI_PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof buf)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            fp_log_warn("opcua", "cannot create %s: %s", buf, strerror(errno));
            return UA_STATUS_BAD_CONFIGURATION_ERROR;
        }
        buf[i] = i == n ? '\0' : '/';
    }
    return UA_STATUS_GOOD;
}

uint32_t ua_pki_open(const char *dir, const ua_pki_options *options, ua_pki **out)
{
    ua_pki *pki;
    char path[PKI_PATH_MAX];
    uint32_t rc;

    if (!dir || !*dir || !out || strlen(dir) > PKI_PATH_MAX - 64)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *out = NULL;
    rc = mkdir_p(dir);
    for (size_t i = 0; rc == UA_STATUS_GOOD && i < sizeof pki_subdirs / sizeof pki_subdirs[0];
         i++) {
        if (!join_path(path, sizeof path, dir, pki_subdirs[i]))
            return UA_STATUS_BAD_INVALID_ARGUMENT;
        rc = mkdir_p(path);
    }
    if (rc != UA_STATUS_GOOD)
        return rc;
    pki = fp_calloc(1, sizeof *pki);
    if (!pki)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    pki->dir = fp_strdup(dir);
    if (!pki->dir) {
        fp_free(pki);
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    }
    if (options)
        pki->opt = *options;
    pki->opt.version = UA_PKI_OPTIONS_VERSION;
    *out = pki;
    return UA_STATUS_GOOD;
}

void ua_pki_free(ua_pki *pki)
{
    if (!pki)
        return;
    fp_free(pki->dir);
    fp_free(pki);
}

const char *ua_pki_dir(const ua_pki *pki)
{
    return pki ? pki->dir : NULL;
}

uint32_t ua_pki_own_certificate(ua_pki *pki, const ua_cert_params *params, ua_cert **cert,
                                ua_key **key)
{
    char cert_path[PKI_PATH_MAX], key_path[PKI_PATH_MAX], uri[1024];
    ua_cert *c = NULL;
    ua_key *k = NULL;
    uint32_t rc_c, rc_k, rc;

    if (!pki || !params || !cert || !key || !params->application_uri)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *cert = NULL;
    *key = NULL;
    if (!join_path(cert_path, sizeof cert_path, pki->dir, OWN_CERT) ||
        !join_path(key_path, sizeof key_path, pki->dir, OWN_KEY))
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    rc_c = ua_cert_load(cert_path, &c);
    rc_k = ua_key_load(key_path, &k);
    if (rc_c == UA_STATUS_BAD_NOT_FOUND && rc_k == UA_STATUS_BAD_NOT_FOUND) {
        rc = ua_cert_create_self_signed(params, &c, &k);
        if (rc == UA_STATUS_GOOD)
            rc = ua_key_save(k, key_path);
        if (rc == UA_STATUS_GOOD)
            rc = ua_cert_save(c, cert_path);
        if (rc == UA_STATUS_GOOD)
            fp_log_info("opcua", "created application instance certificate %s for %s", cert_path,
                        params->application_uri);
        goto out;
    }
    if (rc_c != UA_STATUS_GOOD || rc_k != UA_STATUS_GOOD) {
        fp_log_error("opcua", "own certificate %s or key %s unusable (%s, %s)", cert_path, key_path,
                     ua_status_name(rc_c), ua_status_name(rc_k));
        rc = UA_STATUS_BAD_CONFIGURATION_ERROR;
        goto out;
    }
    if (!ua_cert_matches_key(c, k)) {
        fp_log_error("opcua", "own certificate %s does not belong to key %s", cert_path, key_path);
        rc = UA_STATUS_BAD_CONFIGURATION_ERROR;
        goto out;
    }
    rc = ua_cert_application_uri(c, uri, sizeof uri);
    if (rc != UA_STATUS_GOOD || strcmp(uri, params->application_uri) != 0) {
        fp_log_error("opcua", "own certificate %s is for another application URI", cert_path);
        rc = UA_STATUS_BAD_CERTIFICATE_URI_INVALID;
        goto out;
    }
out:
    if (rc != UA_STATUS_GOOD) {
        ua_cert_free(c);
        ua_key_free(k);
        return rc;
    }
    *cert = c;
    *key = k;
    return UA_STATUS_GOOD;
}

/* Store cert as <dir>/<sub>/<thumbprint>.der. */
static uint32_t store_cert(ua_pki *pki, const char *sub, const ua_cert *cert)
{
    uint8_t tp[UA_THUMBPRINT_LEN];
    char name[64 + 2 * UA_THUMBPRINT_LEN], path[PKI_PATH_MAX];
    size_t off;

    if (!pki || !cert)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    ua_cert_thumbprint(cert, tp);
    off = (size_t)snprintf(name, sizeof name, "%s/", sub);
    for (size_t i = 0; i < sizeof tp && off + 3 < sizeof name; i++)
        off += (size_t)snprintf(name + off, sizeof name - off, "%02x", tp[i]);
    if (off + 5 >= sizeof name)
        return UA_STATUS_BAD_INTERNAL_ERROR;
    memcpy(name + off, ".der", 5);
    if (!join_path(path, sizeof path, pki->dir, name))
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    return write_file(path, cert->der, cert->der_len, 0644);
}

uint32_t ua_pki_trust(ua_pki *pki, const ua_cert *cert)
{
    return store_cert(pki, "trusted/certs", cert);
}

/* Number of entries in <dir>/<sub>, at most limit (-1 when unreadable). */
static int count_entries(const ua_pki *pki, const char *sub, int limit)
{
    char path[PKI_PATH_MAX];
    DIR *d;
    struct dirent *e;
    int n = 0;

    if (!join_path(path, sizeof path, pki->dir, sub) || !(d = opendir(path)))
        return -1;
    while (n < limit && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

uint32_t ua_pki_reject(ua_pki *pki, const ua_cert *cert)
{
    if (!pki || !cert)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    /* A server presenting a new certificate on every attempt must not fill
     * the disk. */
    if (count_entries(pki, "rejected", UA_PKI_REJECTED_MAX) >= UA_PKI_REJECTED_MAX) {
        fp_log_warn("opcua", "%s/rejected holds %d certificates; not adding more", pki->dir,
                    UA_PKI_REJECTED_MAX);
        return UA_STATUS_BAD_CONFIGURATION_ERROR;
    }
    return store_cert(pki, "rejected", cert);
}

/* ------------------------------------------------------------------------ */
/* Verification                                                              */
/* ------------------------------------------------------------------------ */

/* What one verification reads from the folder. */
typedef struct trust_list {
    STACK_OF(X509) * trusted;
    STACK_OF(X509) * issuers;
    STACK_OF(X509_CRL) * crls;
} trust_list;

static void trust_list_clear(trust_list *tl)
{
    sk_X509_pop_free(tl->trusted, X509_free);
    sk_X509_pop_free(tl->issuers, X509_free);
    sk_X509_CRL_pop_free(tl->crls, X509_CRL_free);
    memset(tl, 0, sizeof *tl);
}

/* Append every certificate of a file (DER, one or more, or PEM) to certs.
 * Any key type: a CA may have an EC key even when its leaves have RSA ones. */
static void load_certs_file(const uint8_t *p, size_t len, STACK_OF(X509) * certs)
{
    X509 *x;

    if (p[0] == 0x30) {
        const unsigned char *q = p, *end = p + len;
        while (q < end && (x = d2i_X509(NULL, &q, (long)(end - q))) != NULL)
            if (!sk_X509_push(certs, x))
                X509_free(x);
    } else {
        BIO *bio = BIO_new_mem_buf(p, (int)len);
        while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
            if (!sk_X509_push(certs, x))
                X509_free(x);
        BIO_free(bio);
    }
    ERR_clear_error();
}

static void load_crls_file(const uint8_t *p, size_t len, STACK_OF(X509_CRL) * crls)
{
    BIO *bio = BIO_new_mem_buf(p, (int)len);
    X509_CRL *crl;

    if (!bio)
        return;
    crl = d2i_X509_CRL_bio(bio, NULL);
    if (crl) {
        if (!sk_X509_CRL_push(crls, crl))
            X509_CRL_free(crl);
    } else {
        (void)BIO_reset(bio);
        while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL)
            if (!sk_X509_CRL_push(crls, crl))
                X509_CRL_free(crl);
    }
    BIO_free(bio);
    ERR_clear_error();
}

/* Load every regular, non-hidden file of <dir>/<sub>. Unreadable files are
 * logged and skipped: one bad file must not make every peer untrusted. */
static void load_folder(const ua_pki *pki, const char *sub, STACK_OF(X509) * certs,
                        STACK_OF(X509_CRL) * crls)
{
    char dir[PKI_PATH_MAX], path[PKI_PATH_MAX];
    DIR *d;
    struct dirent *e;

    if (!join_path(dir, sizeof dir, pki->dir, sub))
        return;
    d = opendir(dir);
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        uint8_t *buf;
        size_t len;
        struct stat st;

        if (e->d_name[0] == '.' || !join_path(path, sizeof path, dir, e->d_name))
            continue;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (read_file(path, &buf, &len) != UA_STATUS_GOOD) {
            fp_log_warn("opcua", "skipping unreadable %s", path);
            continue;
        }
        if (certs)
            load_certs_file(buf, len, certs);
        else
            load_crls_file(buf, len, crls);
        fp_free(buf);
    }
    closedir(d);
}

static uint32_t trust_list_load(const ua_pki *pki, trust_list *tl)
{
    memset(tl, 0, sizeof *tl);
    tl->trusted = sk_X509_new_null();
    tl->issuers = sk_X509_new_null();
    tl->crls = sk_X509_CRL_new_null();
    if (!tl->trusted || !tl->issuers || !tl->crls) {
        trust_list_clear(tl);
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    }
    load_folder(pki, "trusted/certs", tl->trusted, NULL);
    load_folder(pki, "issuers/certs", tl->issuers, NULL);
    load_folder(pki, "trusted/crl", NULL, tl->crls);
    load_folder(pki, "issuers/crl", NULL, tl->crls);
    return UA_STATUS_GOOD;
}

static bool in_list(STACK_OF(X509) * list, X509 *x)
{
    for (int i = 0; i < sk_X509_num(list); i++)
        if (X509_cmp(sk_X509_value(list, i), x) == 0)
            return true;
    return false;
}

static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
    const ua_pki *pki = X509_STORE_CTX_get_app_data(ctx);
    int err = X509_STORE_CTX_get_error(ctx);
    X509 *cur;

    if (ok || (err != X509_V_ERR_UNABLE_TO_GET_CRL && err != X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER))
        return ok;
    /* A self-signed certificate (an application's own, or a root) has
     * nobody above it to revoke it. */
    cur = X509_STORE_CTX_get_current_cert(ctx);
    if (cur && X509_self_signed(cur, 0) == 1)
        return 1;
    return pki && !pki->opt.require_crl;
}

/* Map an X509_V_ERR at depth (0 = the certificate itself) to a StatusCode. */
static uint32_t map_x509_error(int err, int depth)
{
    bool leaf = depth == 0;

    switch (err) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
        return UA_STATUS_BAD_CERTIFICATE_UNTRUSTED;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return UA_STATUS_BAD_CERTIFICATE_CHAIN_INCOMPLETE;
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
        return leaf ? UA_STATUS_BAD_CERTIFICATE_TIME_INVALID
                    : UA_STATUS_BAD_CERTIFICATE_ISSUER_TIME_INVALID;
    case X509_V_ERR_CERT_REVOKED:
        return leaf ? UA_STATUS_BAD_CERTIFICATE_REVOKED : UA_STATUS_BAD_CERTIFICATE_ISSUER_REVOKED;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
        return leaf ? UA_STATUS_BAD_CERTIFICATE_REVOCATION_UNKNOWN
                    : UA_STATUS_BAD_CERTIFICATE_ISSUER_REVOCATION_UNKNOWN;
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
    case X509_V_ERR_INVALID_PURPOSE:
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
        return leaf ? UA_STATUS_BAD_CERTIFICATE_USE_NOT_ALLOWED
                    : UA_STATUS_BAD_CERTIFICATE_ISSUER_USE_NOT_ALLOWED;
    default:
        return UA_STATUS_BAD_CERTIFICATE_INVALID;
    }
}

/* Build and check the chain of cert with the folder's certificates (and
 * extra_anchor, the certificate itself when auto-accepting), then require a
 * certificate of the chain to be trusted. */
static uint32_t verify_chain(const ua_pki *pki, const ua_cert *cert, const trust_list *tl,
                             X509 *extra_anchor)
{
    X509_STORE *store;
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) * chain;
    unsigned long flags = 0;
    uint32_t rc = UA_STATUS_BAD_OUT_OF_MEMORY;

    store = X509_STORE_new();
    if (!store)
        return rc;
    /* Only CAs and the certificate itself: another end-entity certificate
     * with the same subject (a renewed self-signed one) would otherwise be
     * taken as the issuer and spoil the chain. */
    for (int i = 0; i < sk_X509_num(tl->trusted); i++) {
        X509 *x = sk_X509_value(tl->trusted, i);
        if (X509_cmp(x, cert->x509) == 0 || X509_check_ca(x) > 0)
            X509_STORE_add_cert(store, x);
    }
    for (int i = 0; i < sk_X509_num(tl->issuers); i++) {
        X509 *x = sk_X509_value(tl->issuers, i);
        if (X509_check_ca(x) > 0)
            X509_STORE_add_cert(store, x);
    }
    if (extra_anchor)
        X509_STORE_add_cert(store, extra_anchor);
    /* A self-signed CA the peer sent along may end the chain; it is no trust
     * anchor of its own, since trust still needs a certificate of the chain
     * to be in trusted/ (checked below). */
    for (int i = 0; i < sk_X509_num(cert->chain); i++) {
        X509 *x = sk_X509_value(cert->chain, i);
        if (X509_check_ca(x) > 0 && X509_self_signed(x, 1) == 1)
            X509_STORE_add_cert(store, x);
    }
    for (int i = 0; i < sk_X509_CRL_num(tl->crls); i++)
        X509_STORE_add_crl(store, sk_X509_CRL_value(tl->crls, i));
    ERR_clear_error(); /* duplicates are reported as errors; harmless */
    if (sk_X509_CRL_num(tl->crls) > 0 || pki->opt.require_crl)
        flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    ctx = X509_STORE_CTX_new();
    if (!ctx || X509_STORE_CTX_init(ctx, store, cert->x509, cert->chain) != 1)
        goto out;
    X509_STORE_CTX_set_flags(ctx, flags);
    if (pki->opt.verify_time)
        X509_STORE_CTX_set_time(ctx, 0, pki->opt.verify_time);
    X509_STORE_CTX_set_app_data(ctx, (void *)pki);
    X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
    if (X509_verify_cert(ctx) != 1) {
        rc = map_x509_error(X509_STORE_CTX_get_error(ctx), X509_STORE_CTX_get_error_depth(ctx));
        goto out;
    }
    rc = UA_STATUS_BAD_CERTIFICATE_UNTRUSTED;
    chain = X509_STORE_CTX_get0_chain(ctx);
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        if (in_list(tl->trusted, x) || (extra_anchor && X509_cmp(x, extra_anchor) == 0)) {
            rc = UA_STATUS_GOOD;
            break;
        }
    }
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

/* The checks on the certificate itself once its chain is good. */
static uint32_t verify_leaf(const ua_cert *cert, const ua_pki_verify_params *params)
{
    X509 *x = cert->x509;
    uint32_t flags = X509_get_extension_flags(x);
    char uri[1024];

    if (params && params->host_name && *params->host_name &&
        X509_check_host(x, params->host_name, 0, 0, NULL) != 1 &&
        X509_check_ip_asc(x, params->host_name, 0) != 1)
        return UA_STATUS_BAD_CERTIFICATE_HOST_NAME_INVALID;
    if (params && params->application_uri) {
        if (ua_cert_application_uri(cert, uri, sizeof uri) != UA_STATUS_GOOD ||
            strcmp(uri, params->application_uri) != 0)
            return UA_STATUS_BAD_CERTIFICATE_URI_INVALID;
    }
    if (flags & EXFLAG_KUSAGE) {
        uint32_t ku = X509_get_key_usage(x);
        if (!(ku & KU_DIGITAL_SIGNATURE) || !(ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT)))
            return UA_STATUS_BAD_CERTIFICATE_USE_NOT_ALLOWED;
    }
    if (flags & EXFLAG_XKUSAGE) {
        uint32_t xku = X509_get_extended_key_usage(x);
        uint32_t need =
            params && params->role == UA_CERT_ROLE_CLIENT ? XKU_SSL_CLIENT : XKU_SSL_SERVER;
        if (!(xku & need))
            return UA_STATUS_BAD_CERTIFICATE_USE_NOT_ALLOWED;
    }
    return UA_STATUS_GOOD;
}

uint32_t ua_pki_verify(ua_pki *pki, const ua_cert *cert, const ua_pki_verify_params *params)
{
    trust_list tl;
    uint32_t rc;
    char uri[256];

    if (!pki || !cert)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (params && params->policy) {
        rc = ua_policy_check_cert(params->policy, cert);
        if (rc != UA_STATUS_GOOD)
            return rc;
    }
    rc = trust_list_load(pki, &tl);
    if (rc != UA_STATUS_GOOD)
        return rc;
    rc = verify_chain(pki, cert, &tl, NULL);
    if (rc == UA_STATUS_BAD_CERTIFICATE_UNTRUSTED && pki->opt.auto_accept) {
        /* Accept it only if it passes every other check with itself as anchor. */
        rc = verify_chain(pki, cert, &tl, cert->x509);
        if (rc == UA_STATUS_GOOD)
            rc = verify_leaf(cert, params);
        if (rc == UA_STATUS_GOOD) {
            rc = ua_pki_trust(pki, cert);
            if (rc == UA_STATUS_GOOD)
                fp_log_warn("opcua", "auto-accepted certificate of %s into %s/trusted/certs",
                            ua_cert_application_uri(cert, uri, sizeof uri) == UA_STATUS_GOOD
                                ? uri
                                : "(no URI)",
                            pki->dir);
        }
        trust_list_clear(&tl);
        return rc;
    }
    trust_list_clear(&tl);
    if (rc == UA_STATUS_BAD_CERTIFICATE_UNTRUSTED ||
        rc == UA_STATUS_BAD_CERTIFICATE_CHAIN_INCOMPLETE) {
        if (ua_pki_reject(pki, cert) == UA_STATUS_GOOD)
            fp_log_warn(
                "opcua",
                "certificate of %s is not trusted (%s); copied to %s/rejected, move it "
                "to trusted/certs to trust it",
                ua_cert_application_uri(cert, uri, sizeof uri) == UA_STATUS_GOOD ? uri : "(no URI)",
                ua_status_name(rc), pki->dir);
        return rc;
    }
    if (rc != UA_STATUS_GOOD)
        return rc;
    return verify_leaf(cert, params);
}
