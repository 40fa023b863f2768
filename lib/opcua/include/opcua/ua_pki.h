/*
 * ua_pki.h - application instance certificates and the trust list folder.
 *
 * A client of libfieldplane-opcua needs its own certificate and key, created
 * on first use when the user gives none, and decides whether to trust a
 * server's certificate from a folder that users manage with a file manager,
 * laid out as other OPC UA stacks do:
 *
 *   <dir>/own/certs/        our certificate (DER)
 *   <dir>/own/private/      our private key (PEM, mode 0600)
 *   <dir>/trusted/certs/    trusted certificates: application or CA (DER or PEM)
 *   <dir>/trusted/crl/      CRLs of trusted CAs
 *   <dir>/issuers/certs/    CA certificates used to build chains, not trusted by themselves
 *   <dir>/issuers/crl/      CRLs of those CAs
 *   <dir>/rejected/         certificates that failed the trust check, named
 *                           <thumbprint>.der; move one to trusted/certs to trust it
 *
 * The folders are read on every verification, so a move takes effect at the
 * next connection attempt. Verification follows OPC 10000-4 §6.1.3 and returns
 * the StatusCode of the first failed check; there is no silent fallback.
 */
#ifndef UA_PKI_H
#define UA_PKI_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "opcua/ua_crypto.h"

/* ------------------------------------------------------------------------ */
/* Creating and storing certificates                                          */
/* ------------------------------------------------------------------------ */

typedef struct ua_cert_params {
    const char *application_uri; /* subjectAltName URI, required */
    const char *common_name;     /* subject CN, required (the application name) */
    const char *organization;    /* subject O, optional */
    const char *dns_name;        /* subjectAltName DNS, optional (the host name) */
    unsigned key_bits;           /* 0 = 2048 */
    time_t not_before;           /* 0 = now minus one hour (clock skew) */
    long valid_days;             /* 0 = 5 years */
} ua_cert_params;

/* Create an RSA key pair and a self-signed application instance certificate
 * signed with SHA-256: version 3, random serial, subject CN/O(/DC), issuer =
 * subject, subjectAltName URI (and DNS), basicConstraints CA:FALSE, keyUsage
 * digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment,
 * keyCertSign, extendedKeyUsage serverAuth and clientAuth, subject and
 * authority key identifiers. The caller owns *cert and *key. Errors:
 * BadInvalidArgument, BadOutOfMemory, BadInternalError. */
uint32_t ua_cert_create_self_signed(const ua_cert_params *params, ua_cert **cert, ua_key **key);

/* Read a certificate or a private key from a file (DER or PEM, detected).
 * The caller owns *out. Errors: BadNotFound (no such file), BadInvalidArgument,
 * BadCertificateInvalid / BadDecodingError, BadOutOfMemory. */
uint32_t ua_cert_load(const char *path, ua_cert **out);
uint32_t ua_key_load(const char *path, ua_key **out);

/* Write a certificate (DER, or PEM when the path ends in ".pem") or a private
 * key (PEM unless the path ends in ".der", created with mode 0600), replacing
 * the file atomically. Errors: BadInvalidArgument, BadOutOfMemory,
 * BadConfigurationError (file system). */
uint32_t ua_cert_save(const ua_cert *cert, const char *path);
uint32_t ua_key_save(const ua_key *key, const char *path);

/* ------------------------------------------------------------------------ */
/* The trust list folder                                                      */
/* ------------------------------------------------------------------------ */

typedef struct ua_pki ua_pki;

#define UA_PKI_OPTIONS_VERSION 1

typedef struct ua_pki_options {
    uint32_t version; /* UA_PKI_OPTIONS_VERSION */
    /* Trust an untrusted but otherwise valid certificate and copy it into
     * trusted/certs. Off by default: a user must choose it explicitly. */
    bool auto_accept;
    /* Fail with Bad*RevocationUnknown when a CA of the chain has no CRL. Off
     * by default, as most installations have no CRLs. */
    bool require_crl;
    /* Verify at this time instead of now (tests); 0 = now. */
    time_t verify_time;
} ua_pki_options;

/* Open the trust list folder dir, creating missing sub-folders (and dir).
 * options may be NULL (all off). The caller owns *out (ua_pki_free). Errors:
 * BadInvalidArgument, BadOutOfMemory, BadConfigurationError (cannot create). */
uint32_t ua_pki_open(const char *dir, const ua_pki_options *options, ua_pki **out);

/* Free; NULL is a no-op. */
void ua_pki_free(ua_pki *pki);

/* Path of the folder, or of one of its sub-folders ("trusted/certs"). */
const char *ua_pki_dir(const ua_pki *pki);

/* Load the own certificate and key from own/certs/cert.der and
 * own/private/key.pem; create both (ua_cert_create_self_signed with params)
 * when neither exists. A present certificate whose ApplicationUri differs from
 * params->application_uri, or whose key does not match, is an error rather
 * than being replaced. The caller owns *cert and *key. Errors:
 * BadConfigurationError (one of the pair missing, mismatch, file system),
 * BadCertificateUriInvalid, and those of ua_cert_create_self_signed. */
uint32_t ua_pki_own_certificate(ua_pki *pki, const ua_cert_params *params, ua_cert **cert,
                                ua_key **key);

typedef enum ua_cert_role {
    UA_CERT_ROLE_SERVER = 0, /* the peer is a server: extendedKeyUsage serverAuth */
    UA_CERT_ROLE_CLIENT = 1, /* the peer is a client: clientAuth */
} ua_cert_role;

typedef struct ua_pki_verify_params {
    ua_cert_role role;
    const char *application_uri;      /* expected URI, NULL = not checked */
    const char *host_name;            /* expected DNS name or IP, NULL = not checked */
    const ua_security_policy *policy; /* key length and digest rules, NULL = not checked */
} ua_pki_verify_params;

/* Verify a peer certificate (with the chain it came with, see
 * ua_cert_from_bytes) against the trust list, in the order of OPC 10000-4
 * Table 106: policy check, chain building and signatures, trust (the
 * certificate or one of its issuers is in trusted/certs), validity times,
 * revocation, host name, URI, key usage. params may be NULL. A certificate
 * that fails the trust check is written to rejected/ (or, with auto_accept,
 * to trusted/certs and accepted when the other checks pass). Errors:
 * BadCertificateUntrusted, BadCertificateChainIncomplete,
 * BadCertificateTimeInvalid, BadCertificateIssuerTimeInvalid,
 * BadCertificateRevoked, BadCertificateIssuerRevoked,
 * BadCertificate[Issuer]RevocationUnknown, BadCertificateUriInvalid,
 * BadCertificateHostNameInvalid, BadCertificateUseNotAllowed,
 * BadCertificateIssuerUseNotAllowed, BadCertificatePolicyCheckFailed,
 * BadCertificateInvalid, BadInvalidArgument, BadOutOfMemory. */
uint32_t ua_pki_verify(ua_pki *pki, const ua_cert *cert, const ua_pki_verify_params *params);

/* Copy a certificate into trusted/certs (as <thumbprint>.der) or into
 * rejected/ (which keeps at most 256 certificates). Errors:
 * BadInvalidArgument, BadConfigurationError (file system, rejected/ full). */
uint32_t ua_pki_trust(ua_pki *pki, const ua_cert *cert);
uint32_t ua_pki_reject(ua_pki *pki, const ua_cert *cert);

#endif
