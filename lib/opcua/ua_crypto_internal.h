/*
 * ua_crypto_internal.h - what ua_crypto*.c and ua_pki*.c share and nobody else sees.
 *
 * The opaque ua_key and ua_cert of ua_crypto.h are thin wrappers around the
 * OpenSSL objects; the PKI code needs the X509 behind a certificate to build
 * and verify chains.
 */
#ifndef UA_CRYPTO_INTERNAL_H
#define UA_CRYPTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "opcua/ua_crypto.h"

/* The longest RSA modulus handled (MaxAsymmetricKeyLength is 4096 bits; one
 * step of margin for keys that the policy check rejects cleanly). */
#define UA_MAX_KEY_BYTES 1024

/* The longest seed P_SHA256 takes (nonces are 32 bytes in every policy). */
#define UA_PRF_MAX_SEED 256

struct ua_key {
    EVP_PKEY *pkey;
    bool has_private;
};

struct ua_cert {
    X509 *x509;
    uint8_t *der; /* i2d of x509 */
    size_t der_len;
    STACK_OF(X509) * chain; /* further certificates it came with; may be NULL */
    struct ua_key key;      /* the public key, owned */
};

/* Wrap an X509 (taking it, freed on failure); NULL when it has no RSA key or
 * memory runs out. */
ua_cert *ua_cert_wrap(X509 *x509);

#endif
