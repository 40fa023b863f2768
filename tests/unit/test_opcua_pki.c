/*
 * test_opcua_pki.c - unit tests of certificate creation and the trust list folder.
 *
 * The self-signed application certificate has the extensions OPC 10000-6
 * §6.2.2 asks for; certificates and keys survive a save and load; the own
 * certificate is created once and then reused; and the trust decisions:
 * untrusted (copied to rejected/), trusted after a move, expired, chains via
 * issuers/, missing issuer, revoked by a CRL, auto-accept, URI, host name, key
 * usage and policy checks. Certificates other than the library's own are made
 * here with OpenSSL. Every test works in its own folder under /tmp.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fp_alloc.h"
#include "opcua/ua_crypto.h"
#include "opcua/ua_pki.h"

#define SERVER_URI "urn:test:server"

static EVP_PKEY *g_ca_key, *g_leaf_key, *g_small_key;

static int setup(void **state)
{
    (void)state;
    g_ca_key = EVP_RSA_gen(2048);
    g_leaf_key = EVP_RSA_gen(2048);
    g_small_key = EVP_RSA_gen(1024);
    return g_ca_key && g_leaf_key && g_small_key ? 0 : -1;
}

static void rm_leftovers(void);

static int teardown(void **state)
{
    (void)state;
    rm_leftovers();
    EVP_PKEY_free(g_ca_key);
    EVP_PKEY_free(g_leaf_key);
    EVP_PKEY_free(g_small_key);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Folders made by tmp_dir(), removed by rm_rf() or, when a test failed
 * before it got there, by the group teardown. */
static char g_dirs[64][256];
static int g_n_dirs;

/* A fresh folder /tmp/fp-opcua-pki-<pid>-XXXXXX in buf. */
static void tmp_dir(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/fp-opcua-pki-%ld-XXXXXX", (long)getpid());
    assert_non_null(mkdtemp(buf));
    if (g_n_dirs < 64)
        snprintf(g_dirs[g_n_dirs++], sizeof g_dirs[0], "%s", buf);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < g_n_dirs; i++)
        if (strcmp(g_dirs[i], dir) == 0)
            g_dirs[i][0] = '\0';
}

static void rm_leftovers(void)
{
    for (int i = 0; i < g_n_dirs; i++)
        if (g_dirs[i][0])
            nftw(g_dirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

typedef struct cert_spec {
    const char *cn;
    const char *san; /* "URI:...,DNS:..." or NULL */
    bool ca;
    long start_days;  /* notBefore relative to now */
    long days;        /* validity */
    const char *ku;   /* NULL = default for the kind */
    const char *eku;  /* NULL = serverAuth,clientAuth for leaves */
    const EVP_MD *md; /* NULL = SHA-256 */
} cert_spec;

/* A certificate for key, signed by issuer/issuer_key (self-signed when NULL). */
static X509 *make_cert(const cert_spec *s, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    static long serial = 1000;

    assert_non_null(x);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), s->start_days * 86400L);
    X509_gmtime_adj(X509_getm_notAfter(x), (s->start_days + s->days) * 86400L);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)s->cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_NAME_free(name);
    X509_set_pubkey(x, key);
    add_ext(x, issuer, NID_subject_key_identifier, "hash");
    add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
    if (s->ca) {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer, NID_key_usage, s->ku ? s->ku : "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, issuer, NID_key_usage,
                s->ku ? s->ku
                      : (issuer ? "critical,digitalSignature,nonRepudiation,keyEncipherment,"
                                  "dataEncipherment"
                                : "critical,digitalSignature,nonRepudiation,keyEncipherment,"
                                  "dataEncipherment,keyCertSign"));
        add_ext(x, issuer, NID_ext_key_usage, s->eku ? s->eku : "serverAuth,clientAuth");
    }
    if (s->san)
        add_ext(x, issuer, NID_subject_alt_name, s->san);
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, s->md ? s->md : EVP_sha256()) > 0);
    return x;
}

/* ua_cert of x (and of the extra certificates after it, as a chain). */
static ua_cert *to_ua(X509 *x, X509 *extra)
{
    unsigned char *d1 = NULL, *d2 = NULL;
    int n1 = i2d_X509(x, &d1), n2 = extra ? i2d_X509(extra, &d2) : 0;
    uint8_t *buf = malloc((size_t)(n1 + n2));
    ua_cert *c = NULL;

    memcpy(buf, d1, (size_t)n1);
    if (n2)
        memcpy(buf + n1, d2, (size_t)n2);
    assert_int_equal(ua_cert_from_bytes(buf, (size_t)(n1 + n2), &c), UA_STATUS_GOOD);
    OPENSSL_free(d1);
    OPENSSL_free(d2);
    free(buf);
    return c;
}

/* Write x as DER into <dir>/<sub>/<name>. */
static void put_cert(const char *dir, const char *sub, const char *name, X509 *x)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(i2d_X509_fp(f, x), 1);
    fclose(f);
}

static int count_files(const char *dir, const char *sub)
{
    char cmd[600];
    FILE *p;
    int n = -1;

    snprintf(cmd, sizeof cmd, "ls -1 '%s/%s' | wc -l", dir, sub);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static const cert_spec leaf_spec = {
    .cn = "server", .san = "URI:" SERVER_URI ",DNS:plc1.example", .start_days = -1, .days = 365};
static const cert_spec ca_spec = {.cn = "Test CA", .ca = true, .start_days = -2, .days = 3650};

/* ------------------------------------------------------------------------ */

static void test_create_self_signed(void **state)
{
    ua_cert_params params = {
        .application_uri = "urn:fieldplane:test:client,with,commas",
        .common_name = "Fieldplane Test",
        .organization = "Fieldplane",
        .dns_name = "edge-box",
    };
    ua_cert *cert = NULL;
    ua_key *key = NULL;
    const uint8_t *der;
    const unsigned char *q;
    size_t der_len;
    X509 *x;
    GENERAL_NAMES *gens;
    BASIC_CONSTRAINTS *bc;
    bool saw_uri = false, saw_dns = false;
    char uri[256];
    uint32_t ku, xku;
    int md_nid = 0, pk_nid = 0;
    time_t now = time(NULL);

    (void)state;
    assert_int_equal(ua_cert_create_self_signed(&params, &cert, &key), UA_STATUS_GOOD);
    assert_true(ua_cert_matches_key(cert, key));
    assert_int_equal(ua_key_bits(key), 2048);
    assert_int_equal(ua_cert_application_uri(cert, uri, sizeof uri), UA_STATUS_GOOD);
    assert_string_equal(uri, params.application_uri);
    for (int i = 1; i < UA_POLICY_COUNT; i++)
        assert_int_equal(ua_policy_check_cert(ua_policy_by_id((ua_policy_id)i), cert),
                         UA_STATUS_GOOD);

    der = ua_cert_der(cert, &der_len);
    q = der;
    x = d2i_X509(NULL, &q, (long)der_len);
    assert_non_null(x);
    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    assert_true(OBJ_find_sigid_algs(X509_get_signature_nid(x), &md_nid, &pk_nid));
    assert_int_equal(md_nid, NID_sha256);
    assert_int_equal(pk_nid, NID_rsaEncryption);
    assert_int_equal(X509_check_issued(x, x), X509_V_OK); /* self-signed */
    assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);

    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(gens);
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
        if (gn->type == GEN_URI)
            saw_uri = strcmp((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
                             params.application_uri) == 0;
        if (gn->type == GEN_DNS)
            saw_dns = strcmp((const char *)ASN1_STRING_get0_data(gn->d.dNSName), "edge-box") == 0;
    }
    GENERAL_NAMES_free(gens);
    assert_true(saw_uri);
    assert_true(saw_dns);

    ku = X509_get_key_usage(x);
    assert_true(ku & KU_DIGITAL_SIGNATURE);
    assert_true(ku & KU_NON_REPUDIATION);
    assert_true(ku & KU_KEY_ENCIPHERMENT);
    assert_true(ku & KU_DATA_ENCIPHERMENT);
    assert_true(ku & KU_KEY_CERT_SIGN);
    xku = X509_get_extended_key_usage(x);
    assert_true(xku & XKU_SSL_SERVER);
    assert_true(xku & XKU_SSL_CLIENT);
    bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
    assert_non_null(bc);
    assert_false(bc->ca);
    BASIC_CONSTRAINTS_free(bc);
    assert_non_null(X509_get0_subject_key_id(x));
    assert_non_null(X509_get0_authority_key_id(x));
    /* Valid now, for about five years. */
    assert_true(X509_cmp_time(X509_get0_notBefore(x), &now) < 0);
    now += 4 * 365 * 86400L;
    assert_true(X509_cmp_time(X509_get0_notAfter(x), &now) > 0);
    now += 2 * 365 * 86400L;
    assert_true(X509_cmp_time(X509_get0_notAfter(x), &now) < 0);
    X509_free(x);

    params.application_uri = NULL;
    assert_int_equal(ua_cert_create_self_signed(&params, &cert, &key),
                     UA_STATUS_BAD_INVALID_ARGUMENT);
    ua_cert_free(cert);
    ua_key_free(key);
}

static void test_save_load(void **state)
{
    char dir[256], path[320];
    ua_cert_params params = {.application_uri = "urn:a", .common_name = "a"};
    ua_cert *cert = NULL, *c2 = NULL;
    ua_key *key = NULL, *k2 = NULL;
    struct stat st;
    const char *names[] = {"c.der", "c.pem"};
    const char *knames[] = {"k.pem", "k.der"};

    (void)state;
    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_cert_create_self_signed(&params, &cert, &key), UA_STATUS_GOOD);
    for (int i = 0; i < 2; i++) {
        size_t a_len, b_len;
        const uint8_t *a, *b;

        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        assert_int_equal(ua_cert_save(cert, path), UA_STATUS_GOOD);
        assert_int_equal(ua_cert_load(path, &c2), UA_STATUS_GOOD);
        a = ua_cert_der(cert, &a_len);
        b = ua_cert_der(c2, &b_len);
        assert_int_equal(a_len, b_len);
        assert_memory_equal(a, b, a_len);
        ua_cert_free(c2);

        snprintf(path, sizeof path, "%s/%s", dir, knames[i]);
        assert_int_equal(ua_key_save(key, path), UA_STATUS_GOOD);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(ua_key_load(path, &k2), UA_STATUS_GOOD);
        assert_true(ua_cert_matches_key(cert, k2));
        ua_key_free(k2);
    }
    /* An encrypted key fails instead of asking for a password. */
    {
        BIO *bio = BIO_new(BIO_s_mem());
        char *mem = NULL;
        long n;
        assert_int_equal(
            PEM_write_bio_PKCS8PrivateKey(bio, g_leaf_key, EVP_aes_128_cbc(), "pw", 2, NULL, NULL),
            1);
        n = BIO_get_mem_data(bio, &mem);
        assert_int_equal(ua_key_from_bytes((const uint8_t *)mem, (size_t)n, &k2),
                         UA_STATUS_BAD_DECODING_ERROR);
        BIO_free(bio);
    }
    snprintf(path, sizeof path, "%s/missing.der", dir);
    assert_int_equal(ua_cert_load(path, &c2), UA_STATUS_BAD_NOT_FOUND);
    snprintf(path, sizeof path, "%s/k.pem", dir);
    assert_int_equal(ua_cert_load(path, &c2), UA_STATUS_BAD_CERTIFICATE_INVALID);
    ua_cert_free(cert);
    ua_key_free(key);
    rm_rf(dir);
}

static void test_own_certificate(void **state)
{
    char dir[256], path[320];
    ua_pki *pki = NULL;
    ua_cert_params params = {.application_uri = "urn:fieldplane:me", .common_name = "me"};
    ua_cert *c1 = NULL, *c2 = NULL;
    ua_key *k1 = NULL, *k2 = NULL;
    uint8_t t1[UA_THUMBPRINT_LEN], t2[UA_THUMBPRINT_LEN];

    (void)state;
    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_pki_open(dir, NULL, &pki), UA_STATUS_GOOD);
    assert_int_equal(ua_pki_own_certificate(pki, &params, &c1, &k1), UA_STATUS_GOOD);
    assert_int_equal(ua_pki_own_certificate(pki, &params, &c2, &k2), UA_STATUS_GOOD);
    ua_cert_thumbprint(c1, t1);
    ua_cert_thumbprint(c2, t2);
    assert_memory_equal(t1, t2, sizeof t1); /* created once, then reused */
    assert_true(ua_cert_matches_key(c2, k1));
    ua_cert_free(c2);
    ua_key_free(k2);

    params.application_uri = "urn:fieldplane:other";
    assert_int_equal(ua_pki_own_certificate(pki, &params, &c2, &k2),
                     UA_STATUS_BAD_CERTIFICATE_URI_INVALID);
    assert_null(c2);
    params.application_uri = "urn:fieldplane:me";
    snprintf(path, sizeof path, "%s/own/private/key.pem", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(ua_pki_own_certificate(pki, &params, &c2, &k2),
                     UA_STATUS_BAD_CONFIGURATION_ERROR);
    ua_cert_free(c1);
    ua_key_free(k1);
    ua_pki_free(pki);
    rm_rf(dir);
}

static void test_untrusted_then_trusted(void **state)
{
    char dir[256], from[400], to[400], name[64];
    ua_pki *pki = NULL;
    X509 *x = make_cert(&leaf_spec, g_leaf_key, NULL, NULL);
    ua_cert *c = to_ua(x, NULL);
    uint8_t tp[UA_THUMBPRINT_LEN];
    ua_pki_verify_params vp = {.role = UA_CERT_ROLE_SERVER,
                               .application_uri = SERVER_URI,
                               .policy = ua_policy_by_name("Basic256Sha256")};

    (void)state;
    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_pki_open(dir, NULL, &pki), UA_STATUS_GOOD);
    assert_int_equal(ua_pki_verify(pki, c, &vp), UA_STATUS_BAD_CERTIFICATE_UNTRUSTED);
    assert_int_equal(count_files(dir, "rejected"), 1);
    assert_int_equal(count_files(dir, "trusted/certs"), 0);

    /* The user moves it from rejected/ to trusted/certs. */
    ua_cert_thumbprint(c, tp);
    for (int i = 0; i < UA_THUMBPRINT_LEN; i++)
        snprintf(name + 2 * i, 3, "%02x", tp[i]);
    snprintf(from, sizeof from, "%s/rejected/%s.der", dir, name);
    snprintf(to, sizeof to, "%s/trusted/certs/%s.der", dir, name);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(ua_pki_verify(pki, c, &vp), UA_STATUS_GOOD);
    assert_int_equal(ua_pki_verify(pki, c, NULL), UA_STATUS_GOOD);

    vp.application_uri = "urn:test:other";
    assert_int_equal(ua_pki_verify(pki, c, &vp), UA_STATUS_BAD_CERTIFICATE_URI_INVALID);
    vp.application_uri = SERVER_URI;
    vp.host_name = "plc1.example";
    assert_int_equal(ua_pki_verify(pki, c, &vp), UA_STATUS_GOOD);
    vp.host_name = "plc2.example";
    assert_int_equal(ua_pki_verify(pki, c, &vp), UA_STATUS_BAD_CERTIFICATE_HOST_NAME_INVALID);
    vp.host_name = NULL;
    vp.role = UA_CERT_ROLE_CLIENT; /* has clientAuth too */
    assert_int_equal(ua_pki_verify(pki, c, &vp), UA_STATUS_GOOD);

    /* rejected/ stops growing at its limit. */
    for (int i = 0; i < 300; i++) {
        char path[400];
        FILE *f;
        snprintf(path, sizeof path, "%s/rejected/fake%03d.der", dir, i);
        f = fopen(path, "wb");
        assert_non_null(f);
        fclose(f);
    }
    assert_int_equal(ua_pki_reject(pki, c), UA_STATUS_BAD_CONFIGURATION_ERROR);
    assert_int_equal(count_files(dir, "rejected"), 300);

    ua_cert_free(c);
    X509_free(x);
    ua_pki_free(pki);
    rm_rf(dir);
}

static void test_time_invalid(void **state)
{
    char dir[256];
    ua_pki *pki = NULL;
    cert_spec old = leaf_spec, future = leaf_spec;
    X509 *x_old, *x_future, *x_ok;
    ua_cert *c_old, *c_future, *c_ok;
    ua_pki_options opt = {.version = UA_PKI_OPTIONS_VERSION};

    (void)state;
    old.start_days = -400;
    future.start_days = 10;
    x_old = make_cert(&old, g_leaf_key, NULL, NULL);
    x_future = make_cert(&future, g_leaf_key, NULL, NULL);
    x_ok = make_cert(&leaf_spec, g_leaf_key, NULL, NULL);
    c_old = to_ua(x_old, NULL);
    c_future = to_ua(x_future, NULL);
    c_ok = to_ua(x_ok, NULL);
    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_pki_open(dir, NULL, &pki), UA_STATUS_GOOD);
    put_cert(dir, "trusted/certs", "old.der", x_old);
    put_cert(dir, "trusted/certs", "future.der", x_future);
    put_cert(dir, "trusted/certs", "ok.der", x_ok);
    assert_int_equal(ua_pki_verify(pki, c_old, NULL), UA_STATUS_BAD_CERTIFICATE_TIME_INVALID);
    assert_int_equal(ua_pki_verify(pki, c_future, NULL), UA_STATUS_BAD_CERTIFICATE_TIME_INVALID);
    assert_int_equal(ua_pki_verify(pki, c_ok, NULL), UA_STATUS_GOOD);
    assert_int_equal(count_files(dir, "rejected"), 0);
    ua_pki_free(pki);

    /* The same folder checked as of a time two years ahead. */
    opt.verify_time = time(NULL) + 2 * 365 * 86400L;
    assert_int_equal(ua_pki_open(dir, &opt, &pki), UA_STATUS_GOOD);
    assert_int_equal(ua_pki_verify(pki, c_ok, NULL), UA_STATUS_BAD_CERTIFICATE_TIME_INVALID);
    ua_pki_free(pki);

    ua_cert_free(c_old);
    ua_cert_free(c_future);
    ua_cert_free(c_ok);
    X509_free(x_old);
    X509_free(x_future);
    X509_free(x_ok);
    rm_rf(dir);
}

static void test_auto_accept(void **state)
{
    char dir[256];
    ua_pki *pki = NULL;
    ua_pki_options opt = {.version = UA_PKI_OPTIONS_VERSION, .auto_accept = true};
    cert_spec old = leaf_spec;
    X509 *x = make_cert(&leaf_spec, g_leaf_key, NULL, NULL), *x_old;
    ua_cert *c = to_ua(x, NULL), *c_old;
    ua_pki_verify_params vp = {.application_uri = SERVER_URI};

    (void)state;
    old.start_days = -400;
    x_old = make_cert(&old, g_leaf_key, NULL, NULL);
    c_old = to_ua(x_old, NULL);
    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_pki_open(dir, &opt, &pki), UA_STATUS_GOOD);
    /* An expired certificate is not accepted, automatically or not. */
    assert_int_equal(ua_pki_verify(pki, c_old, &vp), UA_STATUS_BAD_CERTIFICATE_TIME_INVALID);
    assert_int_equal(count_files(dir, "trusted/certs"), 0);
    /* Nor one for another application. */
    vp.application_uri = "urn:wrong";
    assert_int_equal(ua_pki_verify(pki, c, &vp), UA_STATUS_BAD_CERTIFICATE_URI_INVALID);
    assert_int_equal(count_files(dir, "trusted/certs"), 0);
    vp.application_uri = SERVER_URI;
    assert_int_equal(ua_pki_verify(pki, c, &vp), UA_STATUS_GOOD);
    assert_int_equal(count_files(dir, "trusted/certs"), 1);
    assert_int_equal(count_files(dir, "rejected"), 0);
    ua_pki_free(pki);
    /* Remembered: trusted without auto-accept from now on. */
    assert_int_equal(ua_pki_open(dir, NULL, &pki), UA_STATUS_GOOD);
    assert_int_equal(ua_pki_verify(pki, c, &vp), UA_STATUS_GOOD);
    ua_pki_free(pki);

    ua_cert_free(c);
    ua_cert_free(c_old);
    X509_free(x);
    X509_free(x_old);
    rm_rf(dir);
}

static void test_issuer_chain(void **state)
{
    char dir[256];
    ua_pki *pki = NULL;
    cert_spec old_ca = ca_spec;
    X509 *ca = make_cert(&ca_spec, g_ca_key, NULL, NULL);
    X509 *leaf = make_cert(&leaf_spec, g_leaf_key, ca, g_ca_key);
    X509 *ca_old, *leaf_of_old;
    ua_cert *c = to_ua(leaf, NULL), *c_chain = to_ua(leaf, ca), *c_old;

    (void)state;
    old_ca.start_days = -4000;
    old_ca.days = 100;
    ca_old = make_cert(&old_ca, g_ca_key, NULL, NULL);
    leaf_of_old = make_cert(&leaf_spec, g_leaf_key, ca_old, g_ca_key);
    c_old = to_ua(leaf_of_old, NULL);

    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_pki_open(dir, NULL, &pki), UA_STATUS_GOOD);
    /* Issuer unknown. */
    assert_int_equal(ua_pki_verify(pki, c, NULL), UA_STATUS_BAD_CERTIFICATE_CHAIN_INCOMPLETE);
    assert_int_equal(count_files(dir, "rejected"), 1);
    /* The CA in issuers/ builds the chain but trusts nothing. */
    put_cert(dir, "issuers/certs", "ca.der", ca);
    assert_int_equal(ua_pki_verify(pki, c, NULL), UA_STATUS_BAD_CERTIFICATE_UNTRUSTED);
    /* Trusting the leaf with its CA in issuers/ is enough. */
    put_cert(dir, "trusted/certs", "leaf.der", leaf);
    assert_int_equal(ua_pki_verify(pki, c, NULL), UA_STATUS_GOOD);
    ua_pki_free(pki);
    rm_rf(dir);

    /* Trusting the CA trusts what it issued, also when the server sends its chain. */
    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_pki_open(dir, NULL, &pki), UA_STATUS_GOOD);
    put_cert(dir, "trusted/certs", "ca.der", ca);
    assert_int_equal(ua_pki_verify(pki, c, NULL), UA_STATUS_GOOD);
    assert_int_equal(ua_pki_verify(pki, c_chain, NULL), UA_STATUS_GOOD);
    ua_pki_free(pki);
    rm_rf(dir);

    /* A trusted leaf whose server sends its CA along: complete and trusted.
     * The same chain with the leaf not trusted: untrusted. */
    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_pki_open(dir, NULL, &pki), UA_STATUS_GOOD);
    assert_int_equal(ua_pki_verify(pki, c_chain, NULL), UA_STATUS_BAD_CERTIFICATE_UNTRUSTED);
    put_cert(dir, "trusted/certs", "leaf.der", leaf);
    assert_int_equal(ua_pki_verify(pki, c_chain, NULL), UA_STATUS_GOOD);
    ua_pki_free(pki);
    rm_rf(dir);

    /* A trusted leaf whose CA is neither trusted nor an issuer: incomplete. */

    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_pki_open(dir, NULL, &pki), UA_STATUS_GOOD);
    put_cert(dir, "trusted/certs", "leaf.der", leaf);
    assert_int_equal(ua_pki_verify(pki, c, NULL), UA_STATUS_BAD_CERTIFICATE_CHAIN_INCOMPLETE);
    /* An expired CA. */
    put_cert(dir, "trusted/certs", "ca_old.der", ca_old);
    assert_int_equal(ua_pki_verify(pki, c_old, NULL),
                     UA_STATUS_BAD_CERTIFICATE_ISSUER_TIME_INVALID);
    ua_pki_free(pki);
    rm_rf(dir);

    /* The chain as an X509IdentityToken carries it: the leaf's DER, then its CA's; parsed
     * back it is the same chain. Without a chain: the leaf alone. */
    uint8_t *der = NULL, *ca_der = NULL;
    size_t der_len = 0, leaf_len = 0;
    int ca_len = i2d_X509(ca, &ca_der);
    const uint8_t *leaf_der = ua_cert_der(c, &leaf_len);
    assert_true(ca_len > 0);
    assert_int_equal(ua_cert_chain_der(c_chain, &der, &der_len), UA_STATUS_GOOD);
    assert_int_equal(der_len, leaf_len + (size_t)ca_len);
    assert_memory_equal(der, leaf_der, leaf_len);
    assert_memory_equal(der + leaf_len, ca_der, (size_t)ca_len);
    ua_cert *back = NULL;
    assert_int_equal(ua_cert_from_bytes(der, der_len, &back), UA_STATUS_GOOD);
    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_pki_open(dir, NULL, &pki), UA_STATUS_GOOD);
    put_cert(dir, "issuers/certs", "unrelated.der", leaf_of_old);
    put_cert(dir, "trusted/certs", "leaf.der", leaf);
    assert_int_equal(ua_pki_verify(pki, back, NULL), UA_STATUS_GOOD);
    ua_pki_free(pki);
    rm_rf(dir);
    ua_cert_free(back);
    fp_free(der);
    assert_int_equal(ua_cert_chain_der(c, &der, &der_len), UA_STATUS_GOOD);
    assert_int_equal(der_len, leaf_len);
    assert_memory_equal(der, leaf_der, leaf_len);
    fp_free(der);
    OPENSSL_free(ca_der);
    assert_int_equal(ua_cert_chain_der(NULL, &der, &der_len), UA_STATUS_BAD_INVALID_ARGUMENT);

    ua_cert_free(c);
    ua_cert_free(c_chain);
    ua_cert_free(c_old);
    X509_free(ca);
    X509_free(leaf);
    X509_free(ca_old);
    X509_free(leaf_of_old);
}

/* A CRL of ca revoking serial (or nothing when revoked is NULL), as DER at path. */
static void write_crl(const char *path, X509 *ca, EVP_PKEY *ca_key, X509 *revoked)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_new();
    FILE *f;

    X509_CRL_set_version(crl, X509_CRL_VERSION_2);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
    X509_gmtime_adj(t, -3600);
    X509_CRL_set1_lastUpdate(crl, t);
    X509_gmtime_adj(t, 30 * 86400L);
    X509_CRL_set1_nextUpdate(crl, t);
    if (revoked) {
        X509_REVOKED *r = X509_REVOKED_new();
        X509_gmtime_adj(t, -60);
        X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked));
        X509_REVOKED_set_revocationDate(r, t);
        X509_CRL_add0_revoked(crl, r);
    }
    X509_CRL_sort(crl);
    assert_true(X509_CRL_sign(crl, ca_key, EVP_sha256()) > 0);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(i2d_X509_CRL_fp(f, crl), 1);
    fclose(f);
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
}

static void test_revocation(void **state)
{
    char dir[256], path[400];
    ua_pki *pki = NULL;
    ua_pki_options opt = {.version = UA_PKI_OPTIONS_VERSION, .require_crl = true};
    X509 *ca = make_cert(&ca_spec, g_ca_key, NULL, NULL);
    X509 *leaf = make_cert(&leaf_spec, g_leaf_key, ca, g_ca_key);
    X509 *other = make_cert(&leaf_spec, g_leaf_key, ca, g_ca_key);
    ua_cert *c = to_ua(leaf, NULL), *c_other = to_ua(other, NULL);

    (void)state;
    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_pki_open(dir, &opt, &pki), UA_STATUS_GOOD);
    put_cert(dir, "trusted/certs", "ca.der", ca);
    assert_int_equal(ua_pki_verify(pki, c, NULL), UA_STATUS_BAD_CERTIFICATE_REVOCATION_UNKNOWN);
    snprintf(path, sizeof path, "%s/trusted/crl/ca.crl", dir);
    write_crl(path, ca, g_ca_key, leaf);
    assert_int_equal(ua_pki_verify(pki, c, NULL), UA_STATUS_BAD_CERTIFICATE_REVOKED);
    assert_int_equal(ua_pki_verify(pki, c_other, NULL), UA_STATUS_GOOD);
    /* Self-signed certificates need no CRL, even with require_crl. */
    {
        X509 *self = make_cert(&leaf_spec, g_leaf_key, NULL, NULL);
        ua_cert *c_self = to_ua(self, NULL);
        put_cert(dir, "trusted/certs", "self.der", self);
        assert_int_equal(ua_pki_verify(pki, c_self, NULL), UA_STATUS_GOOD);
        ua_cert_free(c_self);
        X509_free(self);
    }
    ua_pki_free(pki);
    /* Without require_crl a missing CRL is no error, a present one still counts. */
    assert_int_equal(ua_pki_open(dir, NULL, &pki), UA_STATUS_GOOD);
    assert_int_equal(ua_pki_verify(pki, c, NULL), UA_STATUS_BAD_CERTIFICATE_REVOKED);
    unlink(path);
    assert_int_equal(ua_pki_verify(pki, c, NULL), UA_STATUS_GOOD);
    ua_pki_free(pki);

    ua_cert_free(c);
    ua_cert_free(c_other);
    X509_free(ca);
    X509_free(leaf);
    X509_free(other);
    rm_rf(dir);
}

static void test_usage_and_policy(void **state)
{
    char dir[256];
    ua_pki *pki = NULL;
    cert_spec client_only = leaf_spec, no_sig = leaf_spec, sha1 = leaf_spec;
    X509 *x_client, *x_nosig, *x_sha1, *x_small;
    ua_cert *c_client, *c_nosig, *c_sha1, *c_small;
    ua_pki_verify_params vp = {.role = UA_CERT_ROLE_SERVER};
    const ua_security_policy *pol = ua_policy_by_name("Aes256_Sha256_RsaPss");

    (void)state;
    client_only.eku = "clientAuth";
    no_sig.ku = "critical,keyEncipherment,dataEncipherment,keyCertSign";
    sha1.md = EVP_sha1();
    x_client = make_cert(&client_only, g_leaf_key, NULL, NULL);
    x_nosig = make_cert(&no_sig, g_leaf_key, NULL, NULL);
    x_sha1 = make_cert(&sha1, g_leaf_key, NULL, NULL);
    x_small = make_cert(&leaf_spec, g_small_key, NULL, NULL);
    c_client = to_ua(x_client, NULL);
    c_nosig = to_ua(x_nosig, NULL);
    c_sha1 = to_ua(x_sha1, NULL);
    c_small = to_ua(x_small, NULL);

    tmp_dir(dir, sizeof dir);
    assert_int_equal(ua_pki_open(dir, NULL, &pki), UA_STATUS_GOOD);
    put_cert(dir, "trusted/certs", "client.der", x_client);
    put_cert(dir, "trusted/certs", "nosig.der", x_nosig);
    put_cert(dir, "trusted/certs", "small.der", x_small);
    assert_int_equal(ua_pki_verify(pki, c_client, &vp), UA_STATUS_BAD_CERTIFICATE_USE_NOT_ALLOWED);
    vp.role = UA_CERT_ROLE_CLIENT;
    assert_int_equal(ua_pki_verify(pki, c_client, &vp), UA_STATUS_GOOD);
    assert_int_equal(ua_pki_verify(pki, c_nosig, &vp), UA_STATUS_BAD_CERTIFICATE_USE_NOT_ALLOWED);
    vp.policy = pol;
    assert_int_equal(ua_pki_verify(pki, c_small, &vp),
                     UA_STATUS_BAD_CERTIFICATE_POLICY_CHECK_FAILED);
    assert_int_equal(ua_policy_check_cert(pol, c_sha1),
                     UA_STATUS_BAD_CERTIFICATE_POLICY_CHECK_FAILED);
    assert_int_equal(ua_policy_check_cert(ua_policy_by_id(UA_POLICY_NONE), c_sha1), UA_STATUS_GOOD);
    /* Policy failures are not trust failures: nothing lands in rejected/. */
    assert_int_equal(count_files(dir, "rejected"), 0);
    ua_pki_free(pki);

    ua_cert_free(c_client);
    ua_cert_free(c_nosig);
    ua_cert_free(c_sha1);
    ua_cert_free(c_small);
    X509_free(x_client);
    X509_free(x_nosig);
    X509_free(x_sha1);
    X509_free(x_small);
    rm_rf(dir);
}

static void test_cert_parsing(void **state)
{
    uint8_t junk[300];
    ua_cert *c = NULL;
    X509 *x = make_cert(&leaf_spec, g_leaf_key, NULL, NULL);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    uint8_t tp[UA_THUMBPRINT_LEN], tp2[UA_THUMBPRINT_LEN];
    unsigned int md_len = 0;

    (void)state;
    memset(junk, 0x30, sizeof junk);
    assert_int_equal(ua_cert_from_bytes(junk, sizeof junk, &c), UA_STATUS_BAD_CERTIFICATE_INVALID);
    assert_int_equal(ua_cert_from_bytes(junk, 0, &c), UA_STATUS_BAD_INVALID_ARGUMENT);
    /* Truncated DER, and DER with trailing garbage. */
    for (int cut = 1; cut < n; cut += 97)
        assert_int_equal(ua_cert_from_bytes(der, (size_t)(n - cut), &c),
                         UA_STATUS_BAD_CERTIFICATE_INVALID);
    {
        uint8_t *buf = malloc((size_t)n + 5);
        memcpy(buf, der, (size_t)n);
        memcpy(buf + n, "\x30\x82\xff\xff\x00", 5);
        assert_int_equal(ua_cert_from_bytes(buf, (size_t)n + 5, &c),
                         UA_STATUS_BAD_CERTIFICATE_INVALID);
        free(buf);
    }
    assert_int_equal(ua_cert_from_bytes(der, (size_t)n, &c), UA_STATUS_GOOD);
    ua_cert_thumbprint(c, tp);
    EVP_Digest(der, (size_t)n, tp2, &md_len, EVP_sha1(), NULL);
    assert_memory_equal(tp, tp2, sizeof tp);
    ua_cert_free(c);
    OPENSSL_free(der);
    X509_free(x);
}

/* Every allocation of the library failing in turn: a clean error, no leak
 * (ASan checks the latter). */
static void test_alloc_failures(void **state)
{
    char dir[256];
    ua_pki *pki = NULL;
    ua_cert_params params = {.application_uri = "urn:alloc", .common_name = "alloc"};
    X509 *x = make_cert(&leaf_spec, g_leaf_key, NULL, NULL);
    ua_cert *c = to_ua(x, NULL), *own = NULL;
    ua_key *key = NULL;
    bool saw_good = false;

    (void)state;
    tmp_dir(dir, sizeof dir);
    for (long n = 0; n < 40 && !saw_good; n++) {
        uint32_t rc;

        fp_alloc_fail_after(n);
        rc = ua_pki_open(dir, NULL, &pki);
        if (rc == UA_STATUS_GOOD)
            rc = ua_pki_own_certificate(pki, &params, &own, &key);
        if (rc == UA_STATUS_GOOD) {
            rc = ua_pki_verify(pki, c, NULL);
            saw_good = rc == UA_STATUS_BAD_CERTIFICATE_UNTRUSTED;
        }
        fp_alloc_fail_after(-1);
        assert_true(rc == UA_STATUS_BAD_OUT_OF_MEMORY || rc == UA_STATUS_BAD_CONFIGURATION_ERROR ||
                    rc == UA_STATUS_BAD_CERTIFICATE_UNTRUSTED ||
                    rc == UA_STATUS_BAD_CERTIFICATE_INVALID || rc == UA_STATUS_BAD_INTERNAL_ERROR);
        ua_cert_free(own);
        ua_key_free(key);
        ua_pki_free(pki);
        own = NULL;
        key = NULL;
        pki = NULL;
    }
    assert_true(saw_good);
    ua_cert_free(c);
    X509_free(x);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_self_signed), cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_own_certificate),    cmocka_unit_test(test_untrusted_then_trusted),
        cmocka_unit_test(test_time_invalid),       cmocka_unit_test(test_auto_accept),
        cmocka_unit_test(test_issuer_chain),       cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_usage_and_policy),   cmocka_unit_test(test_cert_parsing),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
