/*
 * ua_crypto.c - keys, certificates, the security policy table and its primitives.
 *
 * Everything cryptographic goes through the EVP interfaces of OpenSSL 3. The
 * policy table holds the parameters of the OPC 10000-7 security policy
 * profiles; the primitives (RSA signature and encryption, HMAC-SHA256, AES-CBC,
 * P_SHA256) are plain functions over buffers that the chunk code in
 * ua_crypto_chunk.c and the secure channel call through the table.
 */
#include "opcua/ua_crypto.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fp_alloc.h"
#include "ua_crypto_internal.h"

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */
/* ------------------------------------------------------------------------ */

/* Wrap an EVP_PKEY (taking it); NULL when not RSA or out of memory, in which
 * case pkey is freed. */
static ua_key *key_wrap(EVP_PKEY *pkey, bool has_private)
{
    ua_key *key;

    if (!pkey)
        return NULL;
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    key = fp_calloc(1, sizeof *key);
    if (!key) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    key->pkey = pkey;
    key->has_private = has_private;
    return key;
}

uint32_t ua_key_generate_rsa(unsigned bits, ua_key **out)
{
    EVP_PKEY *pkey;

    if (!out || bits < 1024 || bits > 8192)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *out = NULL;
    pkey = EVP_RSA_gen(bits);
    if (!pkey)
        return UA_STATUS_BAD_INTERNAL_ERROR;
    *out = key_wrap(pkey, true);
    return *out ? UA_STATUS_GOOD : UA_STATUS_BAD_OUT_OF_MEMORY;
}

/* Password callback for PEM reading: keys are stored unencrypted, and an
 * encrypted one must fail rather than prompt on a terminal. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

uint32_t ua_key_from_bytes(const uint8_t *p, size_t len, ua_key **out)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio;

    if (!out || !p || len == 0 || len > INT32_MAX)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *out = NULL;
    bio = BIO_new_mem_buf(p, (int)len);
    if (!bio)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
    if (!pkey) {
        const unsigned char *q = p;
        if (p[0] == 0x30)
            pkey = d2i_AutoPrivateKey(NULL, &q, (long)len);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (!pkey)
        return UA_STATUS_BAD_DECODING_ERROR;
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pkey);
        return UA_STATUS_BAD_NOT_SUPPORTED;
    }
    *out = key_wrap(pkey, true);
    return *out ? UA_STATUS_GOOD : UA_STATUS_BAD_OUT_OF_MEMORY;
}

uint32_t ua_key_to_bytes(const ua_key *key, bool pem, uint8_t **out, size_t *out_len)
{
    BIO *bio;
    BUF_MEM *mem = NULL;
    int ok;

    if (!key || !key->has_private || !out || !out_len)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *out = NULL;
    *out_len = 0;
    bio = BIO_new(BIO_s_mem());
    if (!bio)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    if (pem)
        ok = PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL);
    else
        ok = i2d_PKCS8PrivateKey_bio(bio, key->pkey, NULL, NULL, 0, NULL, NULL);
    if (ok != 1 || BIO_get_mem_ptr(bio, &mem) != 1 || !mem) {
        BIO_free(bio);
        ERR_clear_error();
        return UA_STATUS_BAD_ENCODING_ERROR;
    }
    *out = fp_malloc(mem->length);
    if (!*out) {
        BIO_free(bio);
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    }
    memcpy(*out, mem->data, mem->length);
    *out_len = mem->length;
    OPENSSL_cleanse(mem->data, mem->length);
    BIO_free(bio);
    return UA_STATUS_GOOD;
}

void ua_key_free(ua_key *key)
{
    if (!key)
        return;
    EVP_PKEY_free(key->pkey);
    fp_free(key);
}

unsigned ua_key_bits(const ua_key *key)
{
    int n = key ? EVP_PKEY_get_bits(key->pkey) : 0;
    return n > 0 ? (unsigned)n : 0;
}

size_t ua_key_bytes(const ua_key *key)
{
    int n = key ? EVP_PKEY_get_size(key->pkey) : 0;
    return n > 0 ? (size_t)n : 0;
}

bool ua_key_has_private(const ua_key *key)
{
    return key && key->has_private;
}

/* ------------------------------------------------------------------------ */
/* Certificates                                                              */
/* ------------------------------------------------------------------------ */

ua_cert *ua_cert_wrap(X509 *x509)
{
    ua_cert *cert;
    unsigned char *der = NULL;
    int n;
    EVP_PKEY *pub;

    if (!x509)
        return NULL;
    cert = fp_calloc(1, sizeof *cert);
    if (!cert)
        goto out_free_x509;
    n = i2d_X509(x509, &der);
    if (n <= 0)
        goto out_free_cert;
    cert->der = fp_malloc((size_t)n);
    if (!cert->der) {
        OPENSSL_free(der);
        goto out_free_cert;
    }
    memcpy(cert->der, der, (size_t)n);
    cert->der_len = (size_t)n;
    OPENSSL_free(der);
    pub = X509_get_pubkey(x509);
    if (!pub || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pub);
        goto out_free_der;
    }
    cert->key.pkey = pub;
    cert->key.has_private = false;
    cert->x509 = x509;
    return cert;

out_free_der:
    fp_free(cert->der);
out_free_cert:
    fp_free(cert);
out_free_x509:
    X509_free(x509);
    ERR_clear_error();
    return NULL;
}

/* Parse consecutive DER certificates; the first becomes the certificate, the
 * others its chain. */
static uint32_t cert_from_der(const uint8_t *p, size_t len, ua_cert **out)
{
    const unsigned char *q = p, *end = p + len;
    X509 *x;
    ua_cert *cert;

    x = d2i_X509(NULL, &q, (long)len);
    if (!x)
        return UA_STATUS_BAD_CERTIFICATE_INVALID;
    cert = ua_cert_wrap(x);
    if (!cert)
        return UA_STATUS_BAD_CERTIFICATE_INVALID;
    while (q < end) {
        X509 *extra = d2i_X509(NULL, &q, (long)(end - q));
        if (!extra)
            goto out_invalid;
        if (!cert->chain)
            cert->chain = sk_X509_new_null();
        if (!cert->chain || !sk_X509_push(cert->chain, extra)) {
            X509_free(extra);
            ua_cert_free(cert);
            return UA_STATUS_BAD_OUT_OF_MEMORY;
        }
    }
    *out = cert;
    return UA_STATUS_GOOD;

out_invalid:
    ua_cert_free(cert);
    return UA_STATUS_BAD_CERTIFICATE_INVALID;
}

/* Parse one or more PEM certificates. */
static uint32_t cert_from_pem(const uint8_t *p, size_t len, ua_cert **out)
{
    BIO *bio = BIO_new_mem_buf(p, (int)len);
    X509 *x;
    ua_cert *cert;

    if (!bio)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    cert = ua_cert_wrap(x);
    if (!cert) {
        BIO_free(bio);
        return UA_STATUS_BAD_CERTIFICATE_INVALID;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!cert->chain)
            cert->chain = sk_X509_new_null();
        if (!cert->chain || !sk_X509_push(cert->chain, x)) {
            X509_free(x);
            ua_cert_free(cert);
            BIO_free(bio);
            return UA_STATUS_BAD_OUT_OF_MEMORY;
        }
    }
    BIO_free(bio);
    *out = cert;
    return UA_STATUS_GOOD;
}

uint32_t ua_cert_from_bytes(const uint8_t *p, size_t len, ua_cert **out)
{
    static const char pem_tag[] = "-----BEGIN";
    uint32_t rc;

    if (!out || !p || len == 0 || len > INT32_MAX)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *out = NULL;
    /* DER always starts with a SEQUENCE tag; PEM is text (maybe with a
     * comment before the block). Received certificates are DER, so bytes from
     * a peer never reach the PEM parser. */
    if (p[0] == 0x30)
        rc = cert_from_der(p, len, out);
    else if (memmem(p, len, pem_tag, sizeof pem_tag - 1))
        rc = cert_from_pem(p, len, out);
    else
        rc = UA_STATUS_BAD_CERTIFICATE_INVALID;
    ERR_clear_error();
    return rc;
}

void ua_cert_free(ua_cert *cert)
{
    if (!cert)
        return;
    EVP_PKEY_free(cert->key.pkey);
    X509_free(cert->x509);
    sk_X509_pop_free(cert->chain, X509_free);
    fp_free(cert->der);
    fp_free(cert);
}

uint32_t ua_cert_chain_der(const ua_cert *cert, uint8_t **out, size_t *len)
{
    if (!cert || !out || !len)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *out = NULL;
    *len = 0;
    size_t total = cert->der_len;
    int n = cert->chain ? sk_X509_num(cert->chain) : 0;
    for (int i = 0; i < n; i++) {
        int k = i2d_X509(sk_X509_value(cert->chain, i), NULL);
        if (k <= 0)
            return UA_STATUS_BAD_CERTIFICATE_INVALID;
        total += (size_t)k;
    }
    uint8_t *buf = fp_malloc(total ? total : 1), *p = buf;
    if (!buf)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    memcpy(p, cert->der, cert->der_len);
    p += cert->der_len;
    for (int i = 0; i < n; i++)
        if (i2d_X509(sk_X509_value(cert->chain, i), &p) <= 0) {
            fp_free(buf);
            return UA_STATUS_BAD_CERTIFICATE_INVALID;
        }
    *out = buf;
    *len = (size_t)(p - buf);
    return UA_STATUS_GOOD;
}

const uint8_t *ua_cert_der(const ua_cert *cert, size_t *len)
{
    if (!cert) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = cert->der_len;
    return cert->der;
}

const ua_key *ua_cert_key(const ua_cert *cert)
{
    return cert ? &cert->key : NULL;
}

uint32_t ua_thumbprint(const uint8_t *der, size_t len, uint8_t out[UA_THUMBPRINT_LEN])
{
    unsigned int n = 0;

    if (!der || !out)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (EVP_Digest(der, len, out, &n, EVP_sha1(), NULL) != 1 || n != UA_THUMBPRINT_LEN)
        return UA_STATUS_BAD_INTERNAL_ERROR;
    return UA_STATUS_GOOD;
}

void ua_cert_thumbprint(const ua_cert *cert, uint8_t out[UA_THUMBPRINT_LEN])
{
    if (!cert || ua_thumbprint(cert->der, cert->der_len, out) != UA_STATUS_GOOD)
        memset(out, 0, UA_THUMBPRINT_LEN);
}

uint32_t ua_cert_application_uri(const ua_cert *cert, char *buf, size_t buf_len)
{
    GENERAL_NAMES *names;
    uint32_t rc = UA_STATUS_BAD_NOT_FOUND;

    if (!cert || !buf || buf_len == 0)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    buf[0] = '\0';
    names = X509_get_ext_d2i(cert->x509, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        const ASN1_IA5STRING *s;
        int n;

        if (gn->type != GEN_URI)
            continue;
        s = gn->d.uniformResourceIdentifier;
        n = ASN1_STRING_length(s);
        if (n < 0 || (size_t)n >= buf_len) {
            rc = UA_STATUS_BAD_INVALID_ARGUMENT;
            break;
        }
        memcpy(buf, ASN1_STRING_get0_data(s), (size_t)n);
        buf[n] = '\0';
        rc = strlen(buf) == (size_t)n ? UA_STATUS_GOOD : UA_STATUS_BAD_CERTIFICATE_INVALID;
        break;
    }
    GENERAL_NAMES_free(names);
    ERR_clear_error();
    return rc;
}

bool ua_cert_matches_key(const ua_cert *cert, const ua_key *key)
{
    if (!cert || !key)
        return false;
    return EVP_PKEY_eq(cert->key.pkey, key->pkey) == 1;
}

uint32_t ua_random_bytes(uint8_t *buf, size_t len)
{
    if (!buf && len)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    /* The kernel's CSPRNG, not RAND_bytes: a session without security then never initialises
     * OpenSSL's providers, which costs a connector about 2 MB of memory. */
    while (len) {
        ssize_t n = getrandom(buf, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return UA_STATUS_BAD_INTERNAL_ERROR;
        buf += n;
        len -= (size_t)n;
    }
    return UA_STATUS_GOOD;
}

/* ------------------------------------------------------------------------ */
/* Primitives                                                                */
/* ------------------------------------------------------------------------ */

enum rsa_sig_kind { SIG_PKCS1_SHA256, SIG_PSS_SHA256 };
enum rsa_enc_kind { ENC_OAEP_SHA1, ENC_OAEP_SHA256 };

/* Prepare a digest-sign or digest-verify context for kind. */
static int rsa_sig_init(EVP_MD_CTX *md, const ua_key *key, enum rsa_sig_kind kind, bool sign)
{
    EVP_PKEY_CTX *pctx = NULL;
    int ok;

    if (sign)
        ok = EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key->pkey);
    else
        ok = EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key->pkey);
    if (ok != 1)
        return 0;
    if (kind == SIG_PSS_SHA256) {
        /* RSA-PSS-SHA2-256: MGF1 with SHA-256, salt as long as the digest. */
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)
            return 0;
    } else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
        return 0;
    }
    return 1;
}

static uint32_t rsa_sign(const ua_key *key, const uint8_t *data, size_t len, uint8_t *sig,
                         enum rsa_sig_kind kind)
{
    EVP_MD_CTX *md;
    size_t sig_len = ua_key_bytes(key);
    uint32_t rc = UA_STATUS_BAD_INTERNAL_ERROR;

    if (!key || !key->has_private || !sig || (!data && len))
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    md = EVP_MD_CTX_new();
    if (!md)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    if (rsa_sig_init(md, key, kind, true) && EVP_DigestSign(md, sig, &sig_len, data, len) == 1 &&
        sig_len == ua_key_bytes(key))
        rc = UA_STATUS_GOOD;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return rc;
}

static uint32_t rsa_verify(const ua_key *key, const uint8_t *data, size_t len, const uint8_t *sig,
                           size_t sig_len, enum rsa_sig_kind kind)
{
    EVP_MD_CTX *md;
    uint32_t rc = UA_STATUS_BAD_SECURITY_CHECKS_FAILED;

    if (!key || !sig || (!data && len))
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (sig_len != ua_key_bytes(key))
        return UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    md = EVP_MD_CTX_new();
    if (!md)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    if (rsa_sig_init(md, key, kind, false) && EVP_DigestVerify(md, sig, sig_len, data, len) == 1)
        rc = UA_STATUS_GOOD;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return rc;
}

static int rsa_enc_setup(EVP_PKEY_CTX *pctx, enum rsa_enc_kind kind)
{
    const EVP_MD *md = kind == ENC_OAEP_SHA256 ? EVP_sha256() : EVP_sha1();

    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_oaep_md(pctx, md) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1;
}

static size_t rsa_enc_overhead(enum rsa_enc_kind kind)
{
    return kind == ENC_OAEP_SHA256 ? 2 * 32 + 2 : 2 * 20 + 2;
}

/* Encrypt in plaintext blocks; the last block may be shorter. */
static uint32_t rsa_encrypt(const ua_key *key, const uint8_t *in, size_t in_len, uint8_t *out,
                            size_t out_cap, size_t *out_len, enum rsa_enc_kind kind)
{
    size_t k = ua_key_bytes(key), pb, n_block, done = 0;
    EVP_PKEY_CTX *pctx;
    uint32_t rc = UA_STATUS_BAD_INTERNAL_ERROR;

    if (!key || !out || !out_len || (!in && in_len) || k <= rsa_enc_overhead(kind))
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    pb = k - rsa_enc_overhead(kind);
    n_block = in_len == 0 ? 1 : (in_len + pb - 1) / pb;
    if (n_block > SIZE_MAX / k || out_cap < n_block * k)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (!pctx)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    if (EVP_PKEY_encrypt_init(pctx) != 1 || !rsa_enc_setup(pctx, kind))
        goto out;
    for (size_t i = 0; i < n_block; i++) {
        size_t chunk = in_len - i * pb < pb ? in_len - i * pb : pb;
        size_t n = k;
        if (EVP_PKEY_encrypt(pctx, out + done, &n, in ? in + i * pb : in, chunk) != 1 || n != k)
            goto out;
        done += n;
    }
    *out_len = done;
    rc = UA_STATUS_GOOD;
out:
    EVP_PKEY_CTX_free(pctx);
    ERR_clear_error();
    return rc;
}

/* Decrypt whole ciphertext blocks; out may equal in since every plaintext
 * block is shorter than its ciphertext block and written behind the read. */
static uint32_t rsa_decrypt(const ua_key *key, const uint8_t *in, size_t in_len, uint8_t *out,
                            size_t out_cap, size_t *out_len, enum rsa_enc_kind kind)
{
    size_t k = ua_key_bytes(key), done = 0;
    EVP_PKEY_CTX *pctx;
    uint8_t block[UA_MAX_KEY_BYTES];
    uint32_t rc = UA_STATUS_BAD_SECURITY_CHECKS_FAILED;

    if (!key || !key->has_private || !in || !out || !out_len || k == 0 || k > sizeof block)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (in_len == 0 || in_len % k != 0)
        return UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (!pctx)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    if (EVP_PKEY_decrypt_init(pctx) != 1 || !rsa_enc_setup(pctx, kind)) {
        rc = UA_STATUS_BAD_INTERNAL_ERROR;
        goto out;
    }
    for (size_t off = 0; off < in_len; off += k) {
        size_t n = sizeof block;
        if (EVP_PKEY_decrypt(pctx, block, &n, in + off, k) != 1)
            goto out;
        if (n > out_cap - done)
            goto out;
        memmove(out + done, block, n);
        done += n;
    }
    *out_len = done;
    rc = UA_STATUS_GOOD;
out:
    OPENSSL_cleanse(block, sizeof block);
    EVP_PKEY_CTX_free(pctx);
    ERR_clear_error();
    return rc;
}

static uint32_t sign_pkcs1_sha256(const ua_key *key, const uint8_t *data, size_t len, uint8_t *sig)
{
    return rsa_sign(key, data, len, sig, SIG_PKCS1_SHA256);
}

static uint32_t verify_pkcs1_sha256(const ua_key *key, const uint8_t *data, size_t len,
                                    const uint8_t *sig, size_t sig_len)
{
    return rsa_verify(key, data, len, sig, sig_len, SIG_PKCS1_SHA256);
}

static uint32_t sign_pss_sha256(const ua_key *key, const uint8_t *data, size_t len, uint8_t *sig)
{
    return rsa_sign(key, data, len, sig, SIG_PSS_SHA256);
}

static uint32_t verify_pss_sha256(const ua_key *key, const uint8_t *data, size_t len,
                                  const uint8_t *sig, size_t sig_len)
{
    return rsa_verify(key, data, len, sig, sig_len, SIG_PSS_SHA256);
}

static uint32_t encrypt_oaep_sha1(const ua_key *key, const uint8_t *in, size_t in_len, uint8_t *out,
                                  size_t out_cap, size_t *out_len)
{
    return rsa_encrypt(key, in, in_len, out, out_cap, out_len, ENC_OAEP_SHA1);
}

static uint32_t decrypt_oaep_sha1(const ua_key *key, const uint8_t *in, size_t in_len, uint8_t *out,
                                  size_t out_cap, size_t *out_len)
{
    return rsa_decrypt(key, in, in_len, out, out_cap, out_len, ENC_OAEP_SHA1);
}

static uint32_t encrypt_oaep_sha256(const ua_key *key, const uint8_t *in, size_t in_len,
                                    uint8_t *out, size_t out_cap, size_t *out_len)
{
    return rsa_encrypt(key, in, in_len, out, out_cap, out_len, ENC_OAEP_SHA256);
}

static uint32_t decrypt_oaep_sha256(const ua_key *key, const uint8_t *in, size_t in_len,
                                    uint8_t *out, size_t out_cap, size_t *out_len)
{
    return rsa_decrypt(key, in, in_len, out, out_cap, out_len, ENC_OAEP_SHA256);
}

/* HMAC-SHA256 with a 32-byte key (DerivedSignatureKeyLength 256 bits). */
static uint32_t hmac_sha256_sign(const uint8_t *key, const uint8_t *data, size_t len, uint8_t *sig)
{
    unsigned int n = 0;

    if (!key || !sig || (!data && len))
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (!HMAC(EVP_sha256(), key, 32, data ? data : (const uint8_t *)"", len, sig, &n) || n != 32)
        return UA_STATUS_BAD_INTERNAL_ERROR;
    return UA_STATUS_GOOD;
}

static uint32_t hmac_sha256_verify(const uint8_t *key, const uint8_t *data, size_t len,
                                   const uint8_t *sig)
{
    uint8_t mac[32];
    uint32_t rc = hmac_sha256_sign(key, data, len, mac);

    if (rc != UA_STATUS_GOOD)
        return rc;
    rc = CRYPTO_memcmp(mac, sig, sizeof mac) == 0 ? UA_STATUS_GOOD
                                                  : UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    OPENSSL_cleanse(mac, sizeof mac);
    return rc;
}

/* AES-CBC without padding, in place. */
static uint32_t aes_cbc(const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *iv,
                        uint8_t *data, size_t len, int enc)
{
    EVP_CIPHER_CTX *ctx;
    int n1 = 0, n2 = 0;
    uint32_t rc = UA_STATUS_BAD_INTERNAL_ERROR;

    if (!key || !iv || (!data && len))
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (len % 16 != 0 || len > INT32_MAX)
        return enc ? UA_STATUS_BAD_INVALID_ARGUMENT : UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    if (len == 0)
        return UA_STATUS_GOOD;
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    if (EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, enc) == 1 &&
        EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
        EVP_CipherUpdate(ctx, data, &n1, data, (int)len) == 1 &&
        EVP_CipherFinal_ex(ctx, data + n1, &n2) == 1 && (size_t)(n1 + n2) == len)
        rc = UA_STATUS_GOOD;
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

static uint32_t aes128_encrypt(const uint8_t *key, const uint8_t *iv, uint8_t *data, size_t len)
{
    return aes_cbc(EVP_aes_128_cbc(), key, iv, data, len, 1);
}

static uint32_t aes128_decrypt(const uint8_t *key, const uint8_t *iv, uint8_t *data, size_t len)
{
    return aes_cbc(EVP_aes_128_cbc(), key, iv, data, len, 0);
}

static uint32_t aes256_encrypt(const uint8_t *key, const uint8_t *iv, uint8_t *data, size_t len)
{
    return aes_cbc(EVP_aes_256_cbc(), key, iv, data, len, 1);
}

static uint32_t aes256_decrypt(const uint8_t *key, const uint8_t *iv, uint8_t *data, size_t len)
{
    return aes_cbc(EVP_aes_256_cbc(), key, iv, data, len, 0);
}

/*
 * P_SHA256(secret, seed) = HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + ...
 * with A(0) = seed and A(i) = HMAC(secret, A(i-1)). Seeds are nonces (32
 * bytes here), kept to a fixed bound so that A(i) + seed fits on the stack.
 */
uint32_t ua_p_sha256(const uint8_t *secret, size_t secret_len, const uint8_t *seed, size_t seed_len,
                     uint8_t *out, size_t out_len)
{
    uint8_t a[32], buf[32 + UA_PRF_MAX_SEED], block[32];
    unsigned int n;
    size_t done = 0;
    uint32_t rc = UA_STATUS_BAD_INTERNAL_ERROR;

    if ((!secret && secret_len) || (!seed && seed_len) || (!out && out_len) ||
        seed_len > UA_PRF_MAX_SEED || secret_len > INT32_MAX)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (!secret)
        secret = (const uint8_t *)"";
    if (seed_len)
        memcpy(buf + 32, seed, seed_len);
    /* A(1) = HMAC(secret, seed) */
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, buf + 32, seed_len, a, &n) || n != 32)
        goto out;
    while (done < out_len) {
        size_t take;

        memcpy(buf, a, 32);
        if (!HMAC(EVP_sha256(), secret, (int)secret_len, buf, 32 + seed_len, block, &n) || n != 32)
            goto out;
        take = out_len - done < 32 ? out_len - done : 32;
        memcpy(out + done, block, take);
        done += take;
        if (!HMAC(EVP_sha256(), secret, (int)secret_len, a, 32, a, &n) || n != 32)
            goto out;
    }
    rc = UA_STATUS_GOOD;
out:
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(buf, sizeof buf);
    OPENSSL_cleanse(block, sizeof block);
    ERR_clear_error();
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The policy table (OPC 10000-7 security policy profiles)                    */
/* ------------------------------------------------------------------------ */

#define POLICY_URI_PREFIX "http://opcfoundation.org/UA/SecurityPolicy#"
#define POLICY_URI_NONE POLICY_URI_PREFIX "None"
#define POLICY_URI_BASIC256SHA256 POLICY_URI_PREFIX "Basic256Sha256"
#define POLICY_URI_AES128 POLICY_URI_PREFIX "Aes128_Sha256_RsaOaep"
#define POLICY_URI_AES256 POLICY_URI_PREFIX "Aes256_Sha256_RsaPss"
#define URI_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define URI_RSA_PSS_SHA256 "http://opcfoundation.org/UA/security/rsa-pss-sha2-256"
#define URI_RSA_OAEP "http://www.w3.org/2001/04/xmlenc#rsa-oaep"
#define URI_RSA_OAEP_SHA256 "http://opcfoundation.org/UA/security/rsa-oaep-sha2-256"

static const ua_security_policy policies[UA_POLICY_COUNT] = {
    [UA_POLICY_NONE] =
        {
            .version = UA_SECURITY_POLICY_VERSION,
            .id = UA_POLICY_NONE,
            .uri = POLICY_URI_NONE,
            .name = POLICY_URI_NONE + sizeof POLICY_URI_PREFIX - 1,
        },
    [UA_POLICY_BASIC256SHA256] =
        {
            .version = UA_SECURITY_POLICY_VERSION,
            .id = UA_POLICY_BASIC256SHA256,
            .uri = POLICY_URI_BASIC256SHA256,
            .name = POLICY_URI_BASIC256SHA256 + sizeof POLICY_URI_PREFIX - 1,
            .asym_sig_uri = URI_RSA_SHA256,
            .asym_enc_uri = URI_RSA_OAEP,
            .asym_enc_overhead = 42,
            .min_key_bits = 2048,
            .max_key_bits = 4096,
            .cert_min_digest_bits = 256,
            .sym_sig_len = 32,
            .sym_sig_key_len = 32,
            .sym_enc_key_len = 32,
            .sym_block_len = 16,
            .nonce_len = 32,
            .asym_sign = sign_pkcs1_sha256,
            .asym_verify = verify_pkcs1_sha256,
            .asym_encrypt = encrypt_oaep_sha1,
            .asym_decrypt = decrypt_oaep_sha1,
            .sym_sign = hmac_sha256_sign,
            .sym_verify = hmac_sha256_verify,
            .sym_encrypt = aes256_encrypt,
            .sym_decrypt = aes256_decrypt,
            .prf = ua_p_sha256,
        },
    [UA_POLICY_AES128_SHA256_RSAOAEP] =
        {
            .version = UA_SECURITY_POLICY_VERSION,
            .id = UA_POLICY_AES128_SHA256_RSAOAEP,
            .uri = POLICY_URI_AES128,
            .name = POLICY_URI_AES128 + sizeof POLICY_URI_PREFIX - 1,
            .asym_sig_uri = URI_RSA_SHA256,
            .asym_enc_uri = URI_RSA_OAEP,
            .asym_enc_overhead = 42,
            .min_key_bits = 2048,
            .max_key_bits = 4096,
            .cert_min_digest_bits = 256,
            .sym_sig_len = 32,
            .sym_sig_key_len = 32,
            .sym_enc_key_len = 16,
            .sym_block_len = 16,
            .nonce_len = 32,
            .asym_sign = sign_pkcs1_sha256,
            .asym_verify = verify_pkcs1_sha256,
            .asym_encrypt = encrypt_oaep_sha1,
            .asym_decrypt = decrypt_oaep_sha1,
            .sym_sign = hmac_sha256_sign,
            .sym_verify = hmac_sha256_verify,
            .sym_encrypt = aes128_encrypt,
            .sym_decrypt = aes128_decrypt,
            .prf = ua_p_sha256,
        },
    [UA_POLICY_AES256_SHA256_RSAPSS] =
        {
            .version = UA_SECURITY_POLICY_VERSION,
            .id = UA_POLICY_AES256_SHA256_RSAPSS,
            .uri = POLICY_URI_AES256,
            .name = POLICY_URI_AES256 + sizeof POLICY_URI_PREFIX - 1,
            .asym_sig_uri = URI_RSA_PSS_SHA256,
            .asym_enc_uri = URI_RSA_OAEP_SHA256,
            .asym_enc_overhead = 66,
            .min_key_bits = 2048,
            .max_key_bits = 4096,
            .cert_min_digest_bits = 256,
            .sym_sig_len = 32,
            .sym_sig_key_len = 32,
            .sym_enc_key_len = 32,
            .sym_block_len = 16,
            .nonce_len = 32,
            .asym_sign = sign_pss_sha256,
            .asym_verify = verify_pss_sha256,
            .asym_encrypt = encrypt_oaep_sha256,
            .asym_decrypt = decrypt_oaep_sha256,
            .sym_sign = hmac_sha256_sign,
            .sym_verify = hmac_sha256_verify,
            .sym_encrypt = aes256_encrypt,
            .sym_decrypt = aes256_decrypt,
            .prf = ua_p_sha256,
        },
};

/* The same URIs as a NULL-terminated list, in the order of the table, for those who offer the
 * choice (a connector's configuration row, a tool's usage); test_opcua_crypto checks that the
 * two agree. */
const char *const ua_policy_uris[UA_POLICY_COUNT + 1] = {
    [UA_POLICY_NONE] = POLICY_URI_NONE,
    [UA_POLICY_BASIC256SHA256] = POLICY_URI_BASIC256SHA256,
    [UA_POLICY_AES128_SHA256_RSAOAEP] = POLICY_URI_AES128,
    [UA_POLICY_AES256_SHA256_RSAPSS] = POLICY_URI_AES256,
    [UA_POLICY_COUNT] = NULL,
};

const ua_security_policy *ua_policy_by_id(ua_policy_id id)
{
    return (unsigned)id < UA_POLICY_COUNT ? &policies[id] : NULL;
}

const ua_security_policy *ua_policy_by_uri_len(const char *uri, size_t len)
{
    if (!uri)
        return NULL;
    for (int i = 0; i < UA_POLICY_COUNT; i++)
        if (strlen(policies[i].uri) == len && memcmp(policies[i].uri, uri, len) == 0)
            return &policies[i];
    return NULL;
}

const ua_security_policy *ua_policy_by_uri(const char *uri)
{
    return uri ? ua_policy_by_uri_len(uri, strlen(uri)) : NULL;
}

const ua_security_policy *ua_policy_by_name(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; i < UA_POLICY_COUNT; i++)
        if (strcmp(policies[i].name, name) == 0)
            return &policies[i];
    return NULL;
}

ua_security_mode ua_security_mode_from_name(const char *name)
{
    if (!name)
        return UA_SECURITY_MODE_INVALID;
    if (strcmp(name, "None") == 0)
        return UA_SECURITY_MODE_NONE;
    if (strcmp(name, "Sign") == 0)
        return UA_SECURITY_MODE_SIGN;
    if (strcmp(name, "SignAndEncrypt") == 0)
        return UA_SECURITY_MODE_SIGN_AND_ENCRYPT;
    return UA_SECURITY_MODE_INVALID;
}

const char *ua_security_mode_name(ua_security_mode mode)
{
    switch (mode) {
    case UA_SECURITY_MODE_NONE:
        return "None";
    case UA_SECURITY_MODE_SIGN:
        return "Sign";
    case UA_SECURITY_MODE_SIGN_AND_ENCRYPT:
        return "SignAndEncrypt";
    default:
        return "Invalid";
    }
}

uint32_t ua_policy_check_key(const ua_security_policy *policy, const ua_key *key)
{
    unsigned bits;

    if (!policy)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (policy->id == UA_POLICY_NONE)
        return UA_STATUS_GOOD;
    bits = ua_key_bits(key);
    if (bits < policy->min_key_bits || bits > policy->max_key_bits ||
        ua_key_bytes(key) > UA_MAX_KEY_BYTES)
        return UA_STATUS_BAD_CERTIFICATE_POLICY_CHECK_FAILED;
    return UA_STATUS_GOOD;
}

uint32_t ua_policy_check_cert(const ua_security_policy *policy, const ua_cert *cert)
{
    int md_nid = NID_undef, pk_nid = NID_undef;
    uint32_t rc;

    if (!policy || !cert)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (policy->id == UA_POLICY_NONE)
        return UA_STATUS_GOOD;
    rc = ua_policy_check_key(policy, &cert->key);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert->x509), &md_nid, &pk_nid))
        return UA_STATUS_BAD_CERTIFICATE_INVALID;
    if (md_nid == NID_undef && pk_nid == NID_rsassaPss) {
        /* RSA-PSS certificate signatures name their digest in the parameters. */
        int sec_bits = 0;
        if (!X509_get_signature_info(cert->x509, &md_nid, NULL, &sec_bits, NULL)) {
            ERR_clear_error();
            return UA_STATUS_BAD_CERTIFICATE_INVALID;
        }
    }
    switch (md_nid) {
    case NID_sha256:
        return policy->cert_min_digest_bits <= 256 ? UA_STATUS_GOOD
                                                   : UA_STATUS_BAD_CERTIFICATE_POLICY_CHECK_FAILED;
    case NID_sha384:
    case NID_sha512:
        return UA_STATUS_GOOD;
    default:
        return UA_STATUS_BAD_CERTIFICATE_POLICY_CHECK_FAILED;
    }
}

size_t ua_asym_cipher_len(const ua_security_policy *policy, const ua_key *key, size_t plain_len)
{
    size_t k = ua_key_bytes(key), pb;

    if (!policy || policy->id == UA_POLICY_NONE || k <= policy->asym_enc_overhead)
        return 0;
    pb = k - policy->asym_enc_overhead;
    return (plain_len == 0 ? 1 : (plain_len + pb - 1) / pb) * k;
}
