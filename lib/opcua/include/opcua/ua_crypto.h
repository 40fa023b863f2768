/*
 * ua_crypto.h - OPC UA security policies and message security over byte buffers.
 *
 * This is the cryptographic half of the secure channel of libfieldplane-opcua
 * (OPC 10000-6 §6.7, security policy profiles of OPC 10000-7). It knows nothing
 * about the binary codec: every function works on a pointer and a length, and
 * the secure channel tells it where the headers end. It offers
 *
 *   - the security policy table (None, Basic256Sha256, Aes128_Sha256_RsaOaep,
 *     Aes256_Sha256_RsaPss) with every parameter of the profiles and the
 *     primitive operations as function pointers;
 *   - RSA keys and X.509 certificates as opaque handles (ua_key, ua_cert);
 *   - P_SHA256 key derivation of the channel keys;
 *   - securing (pad, sign, encrypt in place) and opening (decrypt, verify,
 *     check padding in place) of OPN chunks (asymmetric) and MSG/CLO chunks
 *     (symmetric);
 *   - the ActivateSession client signature and the legacy UserName password
 *     encryption.
 *
 * Every function that can fail returns an OPC UA StatusCode value (uint32_t,
 * UA_STATUS_GOOD = 0). Received bytes are untrusted: every length is checked before
 * it is used and a failure never reads outside the given buffer.
 */
#ifndef UA_CRYPTO_H
#define UA_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opcua/ua_status.h"
#include "opcua/ua_statuscodes.h"

/* Status codes returned here are the library's one vocabulary, generated from
 * StatusCode.csv (opcua/ua_statuscodes.h); ua_status_name() (opcua/ua_status.h) names them. */

/* ------------------------------------------------------------------------ */
/* Keys and certificates                                                      */
/* ------------------------------------------------------------------------ */

/* An RSA key: a public key, or a key pair when it holds the private part. */
typedef struct ua_key ua_key;
/* An X.509 certificate with its DER bytes, its public key and any further
 * certificates that followed it in the DER it was parsed from (a chain). */
typedef struct ua_cert ua_cert;

#define UA_THUMBPRINT_LEN 20 /* SHA-1 of the certificate's DER */

/* Generate an RSA key pair of bits bits (2048..4096 for the policies here).
 * The caller owns *out (ua_key_free). Errors: BadInvalidArgument,
 * BadOutOfMemory, BadInternalError. */
uint32_t ua_key_generate_rsa(unsigned bits, ua_key **out);

/* Parse a private key (PKCS#8 or PKCS#1, PEM or DER, unencrypted).
 * The caller owns *out. Errors: BadInvalidArgument, BadOutOfMemory,
 * BadDecodingError (not a key), BadNotSupported (not RSA). */
uint32_t ua_key_from_bytes(const uint8_t *p, size_t len, ua_key **out);

/* Write the private key as unencrypted PKCS#8, PEM when pem is true, DER
 * otherwise. *out is allocated with fp_malloc and owned by the caller.
 * Errors: BadInvalidArgument (no private part), BadOutOfMemory, BadEncodingError. */
uint32_t ua_key_to_bytes(const ua_key *key, bool pem, uint8_t **out, size_t *out_len);

/* Free a key; NULL is a no-op. */
void ua_key_free(ua_key *key);

/* Modulus length in bits and in bytes (the RSA block and signature size). */
unsigned ua_key_bits(const ua_key *key);
size_t ua_key_bytes(const ua_key *key);
bool ua_key_has_private(const ua_key *key);

/* Parse a certificate from DER (one certificate, or several concatenated: the
 * first is the certificate, the others its chain, as in the SenderCertificate
 * of an OPN chunk) or from PEM (one or more blocks). The caller owns *out.
 * Errors: BadInvalidArgument, BadOutOfMemory, BadCertificateInvalid. */
uint32_t ua_cert_from_bytes(const uint8_t *p, size_t len, ua_cert **out);

/* Free a certificate; NULL is a no-op. */
void ua_cert_free(ua_cert *cert);

/* The DER of the certificate alone (without its chain); borrowed, valid while
 * cert lives. */
const uint8_t *ua_cert_der(const ua_cert *cert, size_t *len);

/* The DER of the certificate followed by the DER of each certificate of its chain (the
 * intermediates a PEM or DER file carried after it), as an X509IdentityToken carries them so
 * that the server can build the path to a CA it trusts. *out is the caller's (fp_free).
 * Errors: BadInvalidArgument, BadOutOfMemory, BadCertificateInvalid. */
uint32_t ua_cert_chain_der(const ua_cert *cert, uint8_t **out, size_t *len);

/* The public key of the certificate; borrowed, valid while cert lives. */
const ua_key *ua_cert_key(const ua_cert *cert);

/* The SHA-1 thumbprint of the certificate's DER into out[UA_THUMBPRINT_LEN]. */
void ua_cert_thumbprint(const ua_cert *cert, uint8_t out[UA_THUMBPRINT_LEN]);

/* The SHA-1 thumbprint of any DER bytes (the receiver thumbprint of an OPN). */
uint32_t ua_thumbprint(const uint8_t *der, size_t len, uint8_t out[UA_THUMBPRINT_LEN]);

/* The ApplicationUri: the first URI of the subjectAltName, copied into buf
 * (NUL-terminated). Errors: BadNotFound (no URI), BadInvalidArgument (buf too
 * small). */
uint32_t ua_cert_application_uri(const ua_cert *cert, char *buf, size_t buf_len);

/* True when the certificate's public key belongs to the private key. */
bool ua_cert_matches_key(const ua_cert *cert, const ua_key *key);

/* Fill buf with len cryptographically random bytes (nonces). Errors:
 * BadInternalError when the random generator fails. */
uint32_t ua_random_bytes(uint8_t *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Security policies                                                          */
/* ------------------------------------------------------------------------ */

/* MessageSecurityMode with its wire values (OPC 10000-4 §7.20). */
typedef enum ua_security_mode {
    UA_SECURITY_MODE_INVALID = 0,
    UA_SECURITY_MODE_NONE = 1,
    UA_SECURITY_MODE_SIGN = 2,
    UA_SECURITY_MODE_SIGN_AND_ENCRYPT = 3,
} ua_security_mode;

/* "None", "Sign", "SignAndEncrypt" and back; UA_SECURITY_MODE_INVALID for
 * an unknown name, "Invalid" for an unknown mode. */
ua_security_mode ua_security_mode_from_name(const char *name);
const char *ua_security_mode_name(ua_security_mode mode);

typedef enum ua_policy_id {
    UA_POLICY_NONE = 0,
    UA_POLICY_BASIC256SHA256,
    UA_POLICY_AES128_SHA256_RSAOAEP,
    UA_POLICY_AES256_SHA256_RSAPSS,
    UA_POLICY_COUNT
} ua_policy_id;

#define UA_SECURITY_POLICY_VERSION 1
#define UA_SYM_MAX_KEY_LEN 32   /* longest derived signing or encrypting key */
#define UA_SYM_MAX_BLOCK_LEN 16 /* AES block, the IV length */
#define UA_SYM_MAX_SIG_LEN 32   /* HMAC-SHA256 */

/*
 * One security policy. Instances are static and read-only (ua_policy_by_*);
 * new fields are only ever added at the end and raise `version`.
 *
 * For the None policy every length is 0 and every function pointer is NULL:
 * callers check `id == UA_POLICY_NONE` (the chunk functions below do).
 * All function pointers return a StatusCode.
 */
typedef struct ua_security_policy {
    uint32_t version; /* UA_SECURITY_POLICY_VERSION */
    ua_policy_id id;
    const char *uri;  /* http://opcfoundation.org/UA/SecurityPolicy#<name> */
    const char *name; /* "Basic256Sha256" */

    /* Asymmetric algorithms (OPN chunks, session signatures, user tokens). */
    const char *asym_sig_uri;      /* SignatureData.algorithm */
    const char *asym_enc_uri;      /* UserNameIdentityToken.encryptionAlgorithm */
    size_t asym_enc_overhead;      /* key bytes - plaintext block bytes (OAEP 2*hLen+2) */
    unsigned min_key_bits;         /* MinAsymmetricKeyLength */
    unsigned max_key_bits;         /* MaxAsymmetricKeyLength */
    unsigned cert_min_digest_bits; /* certificate signatures: SHA-256 or stronger */

    /* Symmetric algorithms (MSG and CLO chunks). */
    size_t sym_sig_len;     /* HMAC output */
    size_t sym_sig_key_len; /* DerivedSignatureKeyLength / 8 */
    size_t sym_enc_key_len; /* AES key */
    size_t sym_block_len;   /* AES block and IV */
    size_t nonce_len;       /* SecureChannelNonceLength */

    /* Asymmetric signature of data[0..len) with a private key; sig has room for
     * ua_key_bytes(key) bytes, which is the signature length. */
    uint32_t (*asym_sign)(const ua_key *key, const uint8_t *data, size_t len, uint8_t *sig);
    /* Verify a signature of sig_len bytes; BadSecurityChecksFailed if wrong. */
    uint32_t (*asym_verify)(const ua_key *key, const uint8_t *data, size_t len, const uint8_t *sig,
                            size_t sig_len);
    /* Encrypt in plaintext blocks of ua_key_bytes(key) - asym_enc_overhead bytes
     * into ciphertext blocks of ua_key_bytes(key); out has room for
     * ua_asym_cipher_len(). *out_len receives the length written. */
    uint32_t (*asym_encrypt)(const ua_key *key, const uint8_t *in, size_t in_len, uint8_t *out,
                             size_t out_cap, size_t *out_len);
    /* Decrypt whole ciphertext blocks; in_len must be a multiple of the key
     * length. out may equal in (in-place). BadSecurityChecksFailed on bad input. */
    uint32_t (*asym_decrypt)(const ua_key *key, const uint8_t *in, size_t in_len, uint8_t *out,
                             size_t out_cap, size_t *out_len);
    /* HMAC of data with key[0..sym_sig_key_len) into sig[0..sym_sig_len). */
    uint32_t (*sym_sign)(const uint8_t *key, const uint8_t *data, size_t len, uint8_t *sig);
    /* Constant-time comparison of the HMAC; BadSecurityChecksFailed if wrong. */
    uint32_t (*sym_verify)(const uint8_t *key, const uint8_t *data, size_t len, const uint8_t *sig);
    /* CBC encryption/decryption in place without padding; len must be a
     * multiple of sym_block_len. */
    uint32_t (*sym_encrypt)(const uint8_t *key, const uint8_t *iv, uint8_t *data, size_t len);
    uint32_t (*sym_decrypt)(const uint8_t *key, const uint8_t *iv, uint8_t *data, size_t len);
    /* The key derivation function P_SHA256(secret, seed) producing out_len bytes. */
    uint32_t (*prf)(const uint8_t *secret, size_t secret_len, const uint8_t *seed, size_t seed_len,
                    uint8_t *out, size_t out_len);
} ua_security_policy;

/* The URIs of the policies above, in ua_policy_id order, NULL-terminated: the list to offer
 * (a policy's short name is what follows '#'). */
extern const char *const ua_policy_uris[UA_POLICY_COUNT + 1];

/* Look a policy up by its full URI or by its short name ("Basic256Sha256");
 * NULL when unknown. Comparison is exact. */
const ua_security_policy *ua_policy_by_uri(const char *uri);
const ua_security_policy *ua_policy_by_uri_len(const char *uri, size_t len);
const ua_security_policy *ua_policy_by_name(const char *name);
const ua_security_policy *ua_policy_by_id(ua_policy_id id);

/* Does the certificate meet the policy: RSA key of min..max bits and a
 * signature digest of at least cert_min_digest_bits (self-signed or not).
 * Good for the None policy. Errors: BadCertificatePolicyCheckFailed,
 * BadCertificateInvalid. */
uint32_t ua_policy_check_cert(const ua_security_policy *policy, const ua_cert *cert);

/* Does the key meet the policy's min/max key length? Errors:
 * BadCertificatePolicyCheckFailed. */
uint32_t ua_policy_check_key(const ua_security_policy *policy, const ua_key *key);

/* Length of the ciphertext for plain_len bytes of plaintext encrypted with key
 * under policy (whole blocks); 0 for the None policy. */
size_t ua_asym_cipher_len(const ua_security_policy *policy, const ua_key *key, size_t plain_len);

/* P_SHA256 (the TLS 1.2 PRF of RFC 5246 §5 with HMAC-SHA256), the KDF of the
 * three policies here. Errors: BadInvalidArgument, BadInternalError. */
uint32_t ua_p_sha256(const uint8_t *secret, size_t secret_len, const uint8_t *seed, size_t seed_len,
                     uint8_t *out, size_t out_len);

/* ------------------------------------------------------------------------ */
/* Channel keys                                                               */
/* ------------------------------------------------------------------------ */

/* The symmetric keys of one direction of a channel: signing key, encrypting
 * key and IV, in the order P_SHA256 produces them (OPC 10000-6 §6.7.5). */
typedef struct ua_sym_keys {
    uint8_t sig_key[UA_SYM_MAX_KEY_LEN];
    uint8_t enc_key[UA_SYM_MAX_KEY_LEN];
    uint8_t iv[UA_SYM_MAX_BLOCK_LEN];
} ua_sym_keys;

/* Derive one key set: PRF(secret, seed) split into sym_sig_key_len,
 * sym_enc_key_len and sym_block_len bytes. Errors: BadInvalidArgument,
 * BadInternalError. */
uint32_t ua_sym_keys_derive(const ua_security_policy *policy, const uint8_t *secret,
                            size_t secret_len, const uint8_t *seed, size_t seed_len,
                            ua_sym_keys *out);

/* Derive both key sets of a channel from the nonces of the OPN exchange:
 * the keys the client secures with (secret = server nonce, seed = client
 * nonce) and those the server secures with (secret = client nonce, seed =
 * server nonce). A client secures with *client_keys and opens with
 * *server_keys. Both nonces must have nonce_len bytes. Errors: BadNonceInvalid,
 * BadInvalidArgument, BadInternalError. */
uint32_t ua_channel_keys_derive(const ua_security_policy *policy, const uint8_t *client_nonce,
                                size_t client_nonce_len, const uint8_t *server_nonce,
                                size_t server_nonce_len, ua_sym_keys *client_keys,
                                ua_sym_keys *server_keys);

/* ------------------------------------------------------------------------ */
/* Chunk security                                                             */
/* ------------------------------------------------------------------------ */
/*
 * A chunk is MessageHeader (12 bytes: type, 'F'/'C'/'A', MessageSize, channel
 * id) + SecurityHeader + SequenceHeader (8 bytes) + body + padding +
 * signature. The caller encodes everything up to the body end and says where
 * the security header ends (sec_hdr_end, the offset of the sequence header);
 * the functions here add padding and signature, set MessageSize (bytes 4..7,
 * little endian) and encrypt from sec_hdr_end on, or undo all that.
 *
 * Padding (when encrypting): PaddingSize byte, PaddingSize bytes of that
 * value, and an ExtraPaddingSize byte (the high byte of the padding length)
 * when the encrypting key is longer than 2048 bits; the data to encrypt is
 * then a whole number of plaintext blocks.
 */

#define UA_CHUNK_HEADER_LEN 12
#define UA_SEQUENCE_HEADER_LEN 8
#define UA_SYM_SEC_HDR_END 16 /* MSG/CLO: message header + TokenId */

/* How a chunk will look once secured. */
typedef struct ua_chunk_layout {
    size_t plain_len;   /* sequence header + body + padding + signature */
    size_t padding_len; /* padding bytes incl. PaddingSize and ExtraPaddingSize; 0 when not
                           encrypted */
    size_t sig_len;     /* signature bytes */
    size_t chunk_len;   /* the final MessageSize */
} ua_chunk_layout;

/* Where the pieces of an OPN asymmetric security header are, in place in the
 * chunk (pointers into it; a NULL pointer with length 0 is a null ByteString). */
typedef struct ua_asym_header {
    const uint8_t *policy_uri;
    size_t policy_uri_len;
    const uint8_t *sender_cert;
    size_t sender_cert_len;
    const uint8_t *receiver_thumbprint;
    size_t receiver_thumbprint_len;
    size_t end; /* offset of the sequence header */
} ua_asym_header;

/* Parse the asymmetric security header that follows the 12-byte message
 * header of an OPN chunk of len bytes (the chunk is not modified). Each field
 * is an Int32 length (-1 = null) and bytes, each at most 65535 bytes here.
 * Errors: BadDecodingError. */
uint32_t ua_asym_header_parse(const uint8_t *chunk, size_t len, ua_asym_header *out);

/* Layout of an OPN chunk whose body ends at body_end, signed with local_key
 * (our private key) and encrypted for remote_key (the peer's public key).
 * Errors: BadInvalidArgument, BadSecurityPolicyRejected (key length outside
 * the policy). */
uint32_t ua_asym_chunk_layout(const ua_security_policy *policy, const ua_key *local_key,
                              const ua_key *remote_key, size_t sec_hdr_end, size_t body_end,
                              ua_chunk_layout *out);

/* The largest body that fits into a chunk of at most chunk_max bytes (the
 * negotiated buffer size). Errors: BadInvalidArgument, BadTcpMessageTooLarge
 * (not even an empty body fits). */
uint32_t ua_asym_chunk_max_body(const ua_security_policy *policy, const ua_key *local_key,
                                const ua_key *remote_key, size_t sec_hdr_end, size_t chunk_max,
                                size_t *max_body);

/* Secure an OPN chunk in place: chunk[0..body_end) is encoded, chunk has room
 * for cap bytes (at least the layout's chunk_len). Adds padding, sets
 * MessageSize, signs chunk[0..end of padding) with local_key and encrypts
 * chunk[sec_hdr_end..) for remote_key. With the None policy only MessageSize
 * is set. *chunk_len receives the final length. Errors: BadInvalidArgument,
 * BadTcpMessageTooLarge (cap too small), BadInternalError. */
uint32_t ua_asym_chunk_secure(const ua_security_policy *policy, const ua_key *local_key,
                              const ua_key *remote_key, uint8_t *chunk, size_t cap,
                              size_t sec_hdr_end, size_t body_end, size_t *chunk_len);

/* Open a received OPN chunk of len bytes in place: decrypt chunk[sec_hdr_end..)
 * with local_key (our private key), verify the signature with remote_key (the
 * sender's certificate key) over the header and the plaintext, check the
 * padding. Afterwards the sequence header is at sec_hdr_end and the body ends
 * at *body_end (chunk bytes after that are undefined). With the None policy
 * the chunk is left as it is and *body_end = len. Errors: BadInvalidArgument,
 * BadSecurityChecksFailed (wrong length, decryption, signature or padding),
 * BadSecurityPolicyRejected (key length outside the policy). */
uint32_t ua_asym_chunk_open(const ua_security_policy *policy, const ua_key *local_key,
                            const ua_key *remote_key, uint8_t *chunk, size_t len,
                            size_t sec_hdr_end, size_t *body_end);

/* Layout of a MSG/CLO chunk whose body ends at body_end under mode. */
uint32_t ua_sym_chunk_layout(const ua_security_policy *policy, ua_security_mode mode,
                             size_t body_end, ua_chunk_layout *out);

/* The largest body of a MSG/CLO chunk of at most chunk_max bytes. Errors:
 * BadInvalidArgument, BadTcpMessageTooLarge. */
uint32_t ua_sym_chunk_max_body(const ua_security_policy *policy, ua_security_mode mode,
                               size_t chunk_max, size_t *max_body);

/* Secure a MSG/CLO chunk in place with the keys of the sending side: Sign
 * appends the HMAC, SignAndEncrypt adds padding, the HMAC and encrypts
 * chunk[UA_SYM_SEC_HDR_END..). MessageSize is set in every mode. Errors:
 * BadInvalidArgument, BadSecurityModeRejected, BadTcpMessageTooLarge,
 * BadInternalError. */
uint32_t ua_sym_chunk_secure(const ua_security_policy *policy, ua_security_mode mode,
                             const ua_sym_keys *keys, uint8_t *chunk, size_t cap, size_t body_end,
                             size_t *chunk_len);

/* Open a received MSG/CLO chunk of len bytes in place with the keys of the
 * sending side: decrypt (SignAndEncrypt), verify the HMAC, check padding.
 * *body_end receives where the body ends. Errors: BadInvalidArgument,
 * BadSecurityModeRejected, BadSecurityChecksFailed. */
uint32_t ua_sym_chunk_open(const ua_security_policy *policy, ua_security_mode mode,
                           const ua_sym_keys *keys, uint8_t *chunk, size_t len, size_t *body_end);

/* ------------------------------------------------------------------------ */
/* Session signatures and user tokens                                         */
/* ------------------------------------------------------------------------ */

/* The ActivateSession clientSignature (or CreateSession serverSignature):
 * sign cert||nonce (the peer's certificate DER and its nonce) with key under
 * policy's asymmetric signature algorithm (its URI is policy->asym_sig_uri).
 * *sig is allocated with fp_malloc, owned by the caller, ua_key_bytes(key)
 * long. When the peer sent a certificate chain, cert is its leaf alone
 * (ua_cert_der()), as the other stacks sign and verify. Errors:
 * BadInvalidArgument, BadSecurityPolicyRejected (None), BadOutOfMemory,
 * BadInternalError. */
uint32_t ua_session_sign(const ua_security_policy *policy, const ua_key *key, const uint8_t *cert,
                         size_t cert_len, const uint8_t *nonce, size_t nonce_len, uint8_t **sig,
                         size_t *sig_len);

/* Verify such a signature made by the owner of key (a public key). Errors:
 * BadApplicationSignatureInvalid, BadInvalidArgument, BadOutOfMemory. */
uint32_t ua_session_verify(const ua_security_policy *policy, const ua_key *key, const uint8_t *cert,
                           size_t cert_len, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *sig, size_t sig_len);

/* Encrypt a UserName password in the legacy format (OPC 10000-4 §7.41.2.3):
 * UInt32 length of password+nonce, the password, the server nonce, encrypted
 * with policy's asymmetric encryption for server_key (the server certificate's
 * key). The policy is the user token policy's securityPolicyUri, or the
 * endpoint's when that is empty; its asym_enc_uri goes into the token. *out
 * is allocated with fp_malloc and owned by the caller. Errors:
 * BadInvalidArgument, BadSecurityPolicyRejected (None), BadNonceInvalid
 * (empty nonce), BadOutOfMemory, BadInternalError. */
uint32_t ua_password_encrypt(const ua_security_policy *policy, const ua_key *server_key,
                             const uint8_t *password, size_t password_len, const uint8_t *nonce,
                             size_t nonce_len, uint8_t **out, size_t *out_len);

/* The server side of the above (for tests and servers): decrypt with the
 * private key, check the length prefix and that the nonce matches. *password
 * is allocated with fp_malloc (not NUL-terminated). Errors:
 * BadIdentityTokenInvalid, BadNonceInvalid, BadInvalidArgument, BadOutOfMemory. */
uint32_t ua_password_decrypt(const ua_security_policy *policy, const ua_key *server_key,
                             const uint8_t *cipher, size_t cipher_len, const uint8_t *nonce,
                             size_t nonce_len, uint8_t **password, size_t *password_len);

#endif
