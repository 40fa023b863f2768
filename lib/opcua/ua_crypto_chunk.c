/*
 * ua_crypto_chunk.c - message security of OPC UA chunks, session signatures,
 * and the encrypted UserName password (OPC 10000-6 §6.7.2, OPC 10000-4 §7.41).
 *
 * Chunks are secured and opened in place in the caller's buffer. The order of
 * the checks on receipt is fixed: lengths first, then decryption, then the
 * signature over everything, and only then the padding, which the signature
 * covers; so padding bytes from a peer are never interpreted before they are
 * authenticated, and every failure is the same BadSecurityChecksFailed.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "fp_alloc.h"
#include "opcua/ua_crypto.h"
#include "ua_crypto_internal.h"

/* Longest security policy URI, certificate or thumbprint accepted in an
 * asymmetric security header (a certificate chain of a few certificates). */
#define ASYM_HEADER_FIELD_MAX 65535

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool policy_ok(const ua_security_policy *policy)
{
    return policy && policy->version >= 1 && (unsigned)policy->id < UA_POLICY_COUNT;
}

/* ------------------------------------------------------------------------ */
/* Asymmetric security header                                                */
/* ------------------------------------------------------------------------ */

/* Read one ByteString/String at *off; -1 is null. */
static uint32_t read_bytes_field(const uint8_t *p, size_t len, size_t *off, const uint8_t **out,
                                 size_t *out_len)
{
    int32_t n;

    if (len - *off < 4)
        return UA_STATUS_BAD_DECODING_ERROR;
    n = (int32_t)get_u32(p + *off);
    *off += 4;
    if (n == -1) {
        *out = NULL;
        *out_len = 0;
        return UA_STATUS_GOOD;
    }
    if (n < 0 || n > ASYM_HEADER_FIELD_MAX || (size_t)n > len - *off)
        return UA_STATUS_BAD_DECODING_ERROR;
    *out = p + *off;
    *out_len = (size_t)n;
    *off += (size_t)n;
    return UA_STATUS_GOOD;
}

uint32_t ua_asym_header_parse(const uint8_t *chunk, size_t len, ua_asym_header *out)
{
    size_t off = UA_CHUNK_HEADER_LEN;
    uint32_t rc;

    if (!chunk || !out)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (len < UA_CHUNK_HEADER_LEN)
        return UA_STATUS_BAD_DECODING_ERROR;
    rc = read_bytes_field(chunk, len, &off, &out->policy_uri, &out->policy_uri_len);
    if (rc == UA_STATUS_GOOD)
        rc = read_bytes_field(chunk, len, &off, &out->sender_cert, &out->sender_cert_len);
    if (rc == UA_STATUS_GOOD)
        rc = read_bytes_field(chunk, len, &off, &out->receiver_thumbprint,
                              &out->receiver_thumbprint_len);
    if (rc != UA_STATUS_GOOD) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->end = off;
    return UA_STATUS_GOOD;
}

/* ------------------------------------------------------------------------ */
/* Asymmetric (OPN) chunks                                                   */
/* ------------------------------------------------------------------------ */

/* Check that both keys fit the policy and return the sizes the layout needs:
 * k = encrypting key bytes, pb = plaintext block, sig = signature bytes. */
static uint32_t asym_sizes(const ua_security_policy *policy, const ua_key *sign_key,
                           const ua_key *enc_key, size_t *k, size_t *pb, size_t *sig)
{
    if (!sign_key || !enc_key)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (ua_policy_check_key(policy, sign_key) != UA_STATUS_GOOD ||
        ua_policy_check_key(policy, enc_key) != UA_STATUS_GOOD)
        return UA_STATUS_BAD_SECURITY_POLICY_REJECTED;
    *k = ua_key_bytes(enc_key);
    *pb = *k - policy->asym_enc_overhead;
    *sig = ua_key_bytes(sign_key);
    return UA_STATUS_GOOD;
}

/* Padding for n bytes to encrypt (sequence header + body) followed by the
 * padding bytes and sig signature bytes, in plaintext blocks of pb, with the
 * ExtraPaddingSize byte when extra. Returns the padding field length. */
static size_t padding_len(size_t n, size_t sig, size_t pb, bool extra)
{
    size_t fixed = n + 1 + (extra ? 1 : 0) + sig;
    size_t pad = (pb - fixed % pb) % pb;
    return pad + 1 + (extra ? 1 : 0);
}

/* Write the padding field of len bytes at p. */
static void write_padding(uint8_t *p, size_t len, bool extra)
{
    size_t pad = len - 1 - (extra ? 1 : 0);

    memset(p, (int)(pad & 0xff), len);
    if (extra)
        p[len - 1] = (uint8_t)(pad >> 8);
}

uint32_t ua_asym_chunk_layout(const ua_security_policy *policy, const ua_key *local_key,
                              const ua_key *remote_key, size_t sec_hdr_end, size_t body_end,
                              ua_chunk_layout *out)
{
    size_t k, pb, sig, n;
    uint32_t rc;

    if (!policy_ok(policy) || !out || sec_hdr_end < UA_CHUNK_HEADER_LEN ||
        body_end < sec_hdr_end + UA_SEQUENCE_HEADER_LEN || body_end > INT32_MAX)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (policy->id == UA_POLICY_NONE) {
        out->plain_len = body_end - sec_hdr_end;
        out->chunk_len = body_end;
        return UA_STATUS_GOOD;
    }
    rc = asym_sizes(policy, local_key, remote_key, &k, &pb, &sig);
    if (rc != UA_STATUS_GOOD)
        return rc;
    n = body_end - sec_hdr_end;
    out->sig_len = sig;
    out->padding_len = padding_len(n, sig, pb, k > 256);
    out->plain_len = n + out->padding_len + sig;
    out->chunk_len = sec_hdr_end + out->plain_len / pb * k;
    return UA_STATUS_GOOD;
}

uint32_t ua_asym_chunk_max_body(const ua_security_policy *policy, const ua_key *local_key,
                                const ua_key *remote_key, size_t sec_hdr_end, size_t chunk_max,
                                size_t *max_body)
{
    size_t k, pb, sig, room, fixed;
    uint32_t rc;

    if (!policy_ok(policy) || !max_body || sec_hdr_end < UA_CHUNK_HEADER_LEN)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *max_body = 0;
    if (chunk_max < sec_hdr_end + UA_SEQUENCE_HEADER_LEN)
        return UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE;
    if (policy->id == UA_POLICY_NONE) {
        *max_body = chunk_max - sec_hdr_end - UA_SEQUENCE_HEADER_LEN;
        return UA_STATUS_GOOD;
    }
    rc = asym_sizes(policy, local_key, remote_key, &k, &pb, &sig);
    if (rc != UA_STATUS_GOOD)
        return rc;
    room = (chunk_max - sec_hdr_end) / k * pb;
    fixed = UA_SEQUENCE_HEADER_LEN + 1 + (k > 256 ? 1 : 0) + sig;
    if (room < fixed)
        return UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE;
    *max_body = room - fixed;
    return UA_STATUS_GOOD;
}

uint32_t ua_asym_chunk_secure(const ua_security_policy *policy, const ua_key *local_key,
                              const ua_key *remote_key, uint8_t *chunk, size_t cap,
                              size_t sec_hdr_end, size_t body_end, size_t *chunk_len)
{
    ua_chunk_layout lay;
    size_t k, pb, n_block, sig_off;
    uint8_t block[UA_MAX_KEY_BYTES];
    uint32_t rc;

    if (!chunk || !chunk_len || body_end > cap)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    rc = ua_asym_chunk_layout(policy, local_key, remote_key, sec_hdr_end, body_end, &lay);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (lay.chunk_len > cap || lay.chunk_len > UINT32_MAX)
        return UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE;
    put_u32(chunk + 4, (uint32_t)lay.chunk_len);
    if (policy->id == UA_POLICY_NONE) {
        *chunk_len = lay.chunk_len;
        return UA_STATUS_GOOD;
    }
    if (!local_key->has_private)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    k = ua_key_bytes(remote_key);
    pb = k - policy->asym_enc_overhead;
    write_padding(chunk + body_end, lay.padding_len, k > 256);
    sig_off = body_end + lay.padding_len;
    rc = policy->asym_sign(local_key, chunk, sig_off, chunk + sig_off);
    if (rc != UA_STATUS_GOOD)
        return rc;
    /* Encrypt from the last block backwards: ciphertext block i lands at
     * sec_hdr_end + i*k, which only overlaps plaintext blocks >= i, all of
     * which have been read by then (block i itself is copied first). */
    n_block = lay.plain_len / pb;
    for (size_t i = n_block; i-- > 0;) {
        size_t out_len = 0;
        memcpy(block, chunk + sec_hdr_end + i * pb, pb);
        rc = policy->asym_encrypt(remote_key, block, pb, chunk + sec_hdr_end + i * k, k, &out_len);
        if (rc != UA_STATUS_GOOD || out_len != k) {
            OPENSSL_cleanse(block, sizeof block);
            return rc != UA_STATUS_GOOD ? rc : UA_STATUS_BAD_INTERNAL_ERROR;
        }
    }
    OPENSSL_cleanse(block, sizeof block);
    *chunk_len = lay.chunk_len;
    return UA_STATUS_GOOD;
}

/* Check the padding field that ends at end (exclusive) in the plaintext that
 * starts at start: its length byte(s) and that every byte has the value of
 * PaddingSize. *pad_len receives the field's length. Runs after the signature
 * check, so the bytes are authentic; still everything is bounds-checked. */
static uint32_t check_padding(const uint8_t *chunk, size_t start, size_t end, bool extra,
                              size_t *pad_len)
{
    size_t avail = end - start, pad, field;
    uint8_t lo;

    if (avail < 1 + (extra ? 1u : 0u))
        return UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    if (extra) {
        lo = chunk[end - 2];
        pad = (size_t)chunk[end - 1] << 8 | lo;
        field = pad + 2;
    } else {
        lo = chunk[end - 1];
        pad = lo;
        field = pad + 1;
    }
    if (field > avail)
        return UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    for (size_t i = end - field; i < end - 1 - (extra ? 1u : 0u); i++)
        if (chunk[i] != lo)
            return UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    *pad_len = field;
    return UA_STATUS_GOOD;
}

uint32_t ua_asym_chunk_open(const ua_security_policy *policy, const ua_key *local_key,
                            const ua_key *remote_key, uint8_t *chunk, size_t len,
                            size_t sec_hdr_end, size_t *body_end)
{
    size_t k, pb, sig, plain_len = 0, plain_end, pad_len = 0;
    uint32_t rc;

    if (!policy_ok(policy) || !chunk || !body_end || sec_hdr_end < UA_CHUNK_HEADER_LEN)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *body_end = 0;
    if (len < sec_hdr_end + UA_SEQUENCE_HEADER_LEN || get_u32(chunk + 4) != len)
        return UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    if (policy->id == UA_POLICY_NONE) {
        *body_end = len;
        return UA_STATUS_GOOD;
    }
    rc = asym_sizes(policy, remote_key, local_key, &k, &pb, &sig);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (!local_key->has_private)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if ((len - sec_hdr_end) % k != 0)
        return UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    rc = policy->asym_decrypt(local_key, chunk + sec_hdr_end, len - sec_hdr_end,
                              chunk + sec_hdr_end, len - sec_hdr_end, &plain_len);
    if (rc != UA_STATUS_GOOD)
        return rc == UA_STATUS_BAD_OUT_OF_MEMORY ? rc : UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    /* Each block must have carried a full plaintext block. */
    if (plain_len != (len - sec_hdr_end) / k * pb || plain_len < UA_SEQUENCE_HEADER_LEN + sig + 1)
        return UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    plain_end = sec_hdr_end + plain_len;
    rc = policy->asym_verify(remote_key, chunk, plain_end - sig, chunk + plain_end - sig, sig);
    if (rc != UA_STATUS_GOOD)
        return rc == UA_STATUS_BAD_OUT_OF_MEMORY ? rc : UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    rc = check_padding(chunk, sec_hdr_end + UA_SEQUENCE_HEADER_LEN, plain_end - sig, k > 256,
                       &pad_len);
    if (rc != UA_STATUS_GOOD)
        return rc;
    *body_end = plain_end - sig - pad_len;
    return UA_STATUS_GOOD;
}

/* ------------------------------------------------------------------------ */
/* Symmetric (MSG, CLO) chunks                                               */
/* ------------------------------------------------------------------------ */

uint32_t ua_sym_keys_derive(const ua_security_policy *policy, const uint8_t *secret,
                            size_t secret_len, const uint8_t *seed, size_t seed_len,
                            ua_sym_keys *out)
{
    uint8_t buf[UA_SYM_MAX_KEY_LEN * 2 + UA_SYM_MAX_BLOCK_LEN];
    size_t n;
    uint32_t rc;

    if (!policy_ok(policy) || !out)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (policy->id == UA_POLICY_NONE)
        return UA_STATUS_GOOD;
    n = policy->sym_sig_key_len + policy->sym_enc_key_len + policy->sym_block_len;
    if (n > sizeof buf)
        return UA_STATUS_BAD_INTERNAL_ERROR;
    rc = policy->prf(secret, secret_len, seed, seed_len, buf, n);
    if (rc != UA_STATUS_GOOD)
        return rc;
    memcpy(out->sig_key, buf, policy->sym_sig_key_len);
    memcpy(out->enc_key, buf + policy->sym_sig_key_len, policy->sym_enc_key_len);
    memcpy(out->iv, buf + policy->sym_sig_key_len + policy->sym_enc_key_len, policy->sym_block_len);
    OPENSSL_cleanse(buf, sizeof buf);
    return UA_STATUS_GOOD;
}

uint32_t ua_channel_keys_derive(const ua_security_policy *policy, const uint8_t *client_nonce,
                                size_t client_nonce_len, const uint8_t *server_nonce,
                                size_t server_nonce_len, ua_sym_keys *client_keys,
                                ua_sym_keys *server_keys)
{
    uint32_t rc;

    if (!policy_ok(policy) || !client_keys || !server_keys)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (policy->id != UA_POLICY_NONE &&
        (!client_nonce || !server_nonce || client_nonce_len != policy->nonce_len ||
         server_nonce_len != policy->nonce_len))
        return UA_STATUS_BAD_NONCE_INVALID;
    rc = ua_sym_keys_derive(policy, server_nonce, server_nonce_len, client_nonce, client_nonce_len,
                            client_keys);
    if (rc == UA_STATUS_GOOD)
        rc = ua_sym_keys_derive(policy, client_nonce, client_nonce_len, server_nonce,
                                server_nonce_len, server_keys);
    return rc;
}

/* Is mode one the symmetric chunk functions handle? */
static bool sym_mode_ok(const ua_security_policy *policy, ua_security_mode mode)
{
    if (mode == UA_SECURITY_MODE_NONE)
        return policy->id == UA_POLICY_NONE;
    if (mode == UA_SECURITY_MODE_SIGN || mode == UA_SECURITY_MODE_SIGN_AND_ENCRYPT)
        return policy->id != UA_POLICY_NONE;
    return false;
}

uint32_t ua_sym_chunk_layout(const ua_security_policy *policy, ua_security_mode mode,
                             size_t body_end, ua_chunk_layout *out)
{
    size_t n;

    if (!policy_ok(policy) || !out || body_end < UA_SYM_SEC_HDR_END + UA_SEQUENCE_HEADER_LEN ||
        body_end > INT32_MAX)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (!sym_mode_ok(policy, mode))
        return UA_STATUS_BAD_SECURITY_MODE_REJECTED;
    n = body_end - UA_SYM_SEC_HDR_END;
    if (mode == UA_SECURITY_MODE_NONE) {
        out->plain_len = n;
    } else {
        out->sig_len = policy->sym_sig_len;
        if (mode == UA_SECURITY_MODE_SIGN_AND_ENCRYPT)
            out->padding_len = padding_len(n, out->sig_len, policy->sym_block_len, false);
        out->plain_len = n + out->padding_len + out->sig_len;
    }
    out->chunk_len = UA_SYM_SEC_HDR_END + out->plain_len;
    return UA_STATUS_GOOD;
}

uint32_t ua_sym_chunk_max_body(const ua_security_policy *policy, ua_security_mode mode,
                               size_t chunk_max, size_t *max_body)
{
    size_t room, fixed = UA_SEQUENCE_HEADER_LEN;

    if (!policy_ok(policy) || !max_body)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *max_body = 0;
    if (!sym_mode_ok(policy, mode))
        return UA_STATUS_BAD_SECURITY_MODE_REJECTED;
    if (chunk_max < UA_SYM_SEC_HDR_END)
        return UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE;
    room = chunk_max - UA_SYM_SEC_HDR_END;
    if (mode != UA_SECURITY_MODE_NONE)
        fixed += policy->sym_sig_len;
    if (mode == UA_SECURITY_MODE_SIGN_AND_ENCRYPT) {
        room -= room % policy->sym_block_len;
        fixed += 1;
    }
    if (room < fixed)
        return UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE;
    *max_body = room - fixed;
    return UA_STATUS_GOOD;
}

uint32_t ua_sym_chunk_secure(const ua_security_policy *policy, ua_security_mode mode,
                             const ua_sym_keys *keys, uint8_t *chunk, size_t cap, size_t body_end,
                             size_t *chunk_len)
{
    ua_chunk_layout lay;
    size_t sig_off;
    uint32_t rc;

    if (!chunk || !chunk_len || body_end > cap)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    rc = ua_sym_chunk_layout(policy, mode, body_end, &lay);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (lay.chunk_len > cap)
        return UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE;
    put_u32(chunk + 4, (uint32_t)lay.chunk_len);
    *chunk_len = lay.chunk_len;
    if (mode == UA_SECURITY_MODE_NONE)
        return UA_STATUS_GOOD;
    if (!keys)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    write_padding(chunk + body_end, lay.padding_len, false);
    sig_off = body_end + lay.padding_len;
    rc = policy->sym_sign(keys->sig_key, chunk, sig_off, chunk + sig_off);
    if (rc == UA_STATUS_GOOD && mode == UA_SECURITY_MODE_SIGN_AND_ENCRYPT)
        rc =
            policy->sym_encrypt(keys->enc_key, keys->iv, chunk + UA_SYM_SEC_HDR_END, lay.plain_len);
    if (rc != UA_STATUS_GOOD)
        *chunk_len = 0;
    return rc;
}

uint32_t ua_sym_chunk_open(const ua_security_policy *policy, ua_security_mode mode,
                           const ua_sym_keys *keys, uint8_t *chunk, size_t len, size_t *body_end)
{
    size_t sig, sig_off, pad_len = 0;
    uint32_t rc;

    if (!policy_ok(policy) || !chunk || !body_end)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *body_end = 0;
    if (!sym_mode_ok(policy, mode))
        return UA_STATUS_BAD_SECURITY_MODE_REJECTED;
    if (len < UA_SYM_SEC_HDR_END + UA_SEQUENCE_HEADER_LEN || get_u32(chunk + 4) != len)
        return UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    if (mode == UA_SECURITY_MODE_NONE) {
        *body_end = len;
        return UA_STATUS_GOOD;
    }
    if (!keys)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    sig = policy->sym_sig_len;
    if (len < UA_SYM_SEC_HDR_END + UA_SEQUENCE_HEADER_LEN + sig)
        return UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    if (mode == UA_SECURITY_MODE_SIGN_AND_ENCRYPT) {
        if ((len - UA_SYM_SEC_HDR_END) % policy->sym_block_len != 0)
            return UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
        rc = policy->sym_decrypt(keys->enc_key, keys->iv, chunk + UA_SYM_SEC_HDR_END,
                                 len - UA_SYM_SEC_HDR_END);
        if (rc != UA_STATUS_GOOD)
            return rc == UA_STATUS_BAD_OUT_OF_MEMORY ? rc : UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    }
    sig_off = len - sig;
    rc = policy->sym_verify(keys->sig_key, chunk, sig_off, chunk + sig_off);
    if (rc != UA_STATUS_GOOD)
        return rc == UA_STATUS_BAD_OUT_OF_MEMORY ? rc : UA_STATUS_BAD_SECURITY_CHECKS_FAILED;
    if (mode == UA_SECURITY_MODE_SIGN_AND_ENCRYPT) {
        rc = check_padding(chunk, UA_SYM_SEC_HDR_END + UA_SEQUENCE_HEADER_LEN, sig_off, false,
                           &pad_len);
        if (rc != UA_STATUS_GOOD)
            return rc;
    }
    *body_end = sig_off - pad_len;
    return UA_STATUS_GOOD;
}

/* ------------------------------------------------------------------------ */
/* Session signatures                                                        */
/* ------------------------------------------------------------------------ */

/* cert||nonce in one fp_malloc'd buffer. */
static uint8_t *concat(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    uint8_t *p;

    if (a_len > SIZE_MAX - b_len)
        return NULL;
    p = fp_malloc(a_len + b_len);
    if (!p)
        return NULL;
    if (a_len)
        memcpy(p, a, a_len);
    if (b_len)
        memcpy(p + a_len, b, b_len);
    return p;
}

uint32_t ua_session_sign(const ua_security_policy *policy, const ua_key *key, const uint8_t *cert,
                         size_t cert_len, const uint8_t *nonce, size_t nonce_len, uint8_t **sig,
                         size_t *sig_len)
{
    uint8_t *data, *out;
    uint32_t rc;

    if (!policy_ok(policy) || !key || !sig || !sig_len || (!cert && cert_len) ||
        (!nonce && nonce_len))
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *sig = NULL;
    *sig_len = 0;
    if (policy->id == UA_POLICY_NONE)
        return UA_STATUS_BAD_SECURITY_POLICY_REJECTED;
    if (!key->has_private)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (ua_policy_check_key(policy, key) != UA_STATUS_GOOD)
        return UA_STATUS_BAD_SECURITY_POLICY_REJECTED;
    data = concat(cert, cert_len, nonce, nonce_len);
    out = fp_malloc(ua_key_bytes(key));
    if (!data || !out) {
        fp_free(data);
        fp_free(out);
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    }
    rc = policy->asym_sign(key, data, cert_len + nonce_len, out);
    fp_free(data);
    if (rc != UA_STATUS_GOOD) {
        fp_free(out);
        return rc;
    }
    *sig = out;
    *sig_len = ua_key_bytes(key);
    return UA_STATUS_GOOD;
}

uint32_t ua_session_verify(const ua_security_policy *policy, const ua_key *key, const uint8_t *cert,
                           size_t cert_len, const uint8_t *nonce, size_t nonce_len,
                           const uint8_t *sig, size_t sig_len)
{
    uint8_t *data;
    uint32_t rc;

    if (!policy_ok(policy) || !key || (!cert && cert_len) || (!nonce && nonce_len))
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (policy->id == UA_POLICY_NONE)
        return UA_STATUS_GOOD;
    if (!sig || sig_len != ua_key_bytes(key) || ua_policy_check_key(policy, key) != UA_STATUS_GOOD)
        return UA_STATUS_BAD_APPLICATION_SIGNATURE_INVALID;
    data = concat(cert, cert_len, nonce, nonce_len);
    if (!data)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    rc = policy->asym_verify(key, data, cert_len + nonce_len, sig, sig_len);
    fp_free(data);
    if (rc == UA_STATUS_BAD_OUT_OF_MEMORY)
        return rc;
    return rc == UA_STATUS_GOOD ? UA_STATUS_GOOD : UA_STATUS_BAD_APPLICATION_SIGNATURE_INVALID;
}

/* ------------------------------------------------------------------------ */
/* UserName password (legacy encrypted token secret)                         */
/* ------------------------------------------------------------------------ */

uint32_t ua_password_encrypt(const ua_security_policy *policy, const ua_key *server_key,
                             const uint8_t *password, size_t password_len, const uint8_t *nonce,
                             size_t nonce_len, uint8_t **out, size_t *out_len)
{
    uint8_t *plain, *cipher;
    size_t plain_len, cipher_len, n = 0;
    uint32_t rc;

    if (!policy_ok(policy) || !server_key || !out || !out_len || (!password && password_len) ||
        (!nonce && nonce_len))
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *out = NULL;
    *out_len = 0;
    if (policy->id == UA_POLICY_NONE)
        return UA_STATUS_BAD_SECURITY_POLICY_REJECTED;
    if (nonce_len == 0)
        return UA_STATUS_BAD_NONCE_INVALID;
    if (ua_policy_check_key(policy, server_key) != UA_STATUS_GOOD)
        return UA_STATUS_BAD_SECURITY_POLICY_REJECTED;
    if (password_len > INT32_MAX - 4 - nonce_len)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    plain_len = 4 + password_len + nonce_len;
    plain = fp_malloc(plain_len);
    cipher_len = ua_asym_cipher_len(policy, server_key, plain_len);
    cipher = fp_malloc(cipher_len);
    if (!plain || !cipher) {
        fp_free(plain);
        fp_free(cipher);
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    }
    put_u32(plain, (uint32_t)(password_len + nonce_len));
    if (password_len)
        memcpy(plain + 4, password, password_len);
    memcpy(plain + 4 + password_len, nonce, nonce_len);
    rc = policy->asym_encrypt(server_key, plain, plain_len, cipher, cipher_len, &n);
    OPENSSL_cleanse(plain, plain_len);
    fp_free(plain);
    if (rc != UA_STATUS_GOOD) {
        fp_free(cipher);
        return rc;
    }
    *out = cipher;
    *out_len = n;
    return UA_STATUS_GOOD;
}

uint32_t ua_password_decrypt(const ua_security_policy *policy, const ua_key *server_key,
                             const uint8_t *cipher, size_t cipher_len, const uint8_t *nonce,
                             size_t nonce_len, uint8_t **password, size_t *password_len)
{
    uint8_t *plain, *pw;
    size_t plain_len = 0;
    uint32_t rc, n;

    if (!policy_ok(policy) || !server_key || !cipher || !password || !password_len ||
        (!nonce && nonce_len))
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    *password = NULL;
    *password_len = 0;
    if (policy->id == UA_POLICY_NONE)
        return UA_STATUS_BAD_SECURITY_POLICY_REJECTED;
    if (!server_key->has_private)
        return UA_STATUS_BAD_INVALID_ARGUMENT;
    if (nonce_len == 0)
        return UA_STATUS_BAD_NONCE_INVALID;
    if (ua_policy_check_key(policy, server_key) != UA_STATUS_GOOD)
        return UA_STATUS_BAD_SECURITY_POLICY_REJECTED;
    plain = fp_malloc(cipher_len ? cipher_len : 1);
    if (!plain)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    rc = policy->asym_decrypt(server_key, cipher, cipher_len, plain, cipher_len, &plain_len);
    if (rc != UA_STATUS_GOOD) {
        rc = rc == UA_STATUS_BAD_OUT_OF_MEMORY ? rc : UA_STATUS_BAD_IDENTITY_TOKEN_INVALID;
        goto out;
    }
    rc = UA_STATUS_BAD_IDENTITY_TOKEN_INVALID;
    if (plain_len < 4)
        goto out;
    n = get_u32(plain);
    if (n != plain_len - 4 || n < nonce_len)
        goto out;
    if (CRYPTO_memcmp(plain + 4 + n - nonce_len, nonce, nonce_len) != 0) {
        rc = UA_STATUS_BAD_NONCE_INVALID;
        goto out;
    }
    pw = fp_malloc(n - nonce_len ? n - nonce_len : 1);
    if (!pw) {
        rc = UA_STATUS_BAD_OUT_OF_MEMORY;
        goto out;
    }
    memcpy(pw, plain + 4, n - nonce_len);
    *password = pw;
    *password_len = n - nonce_len;
    rc = UA_STATUS_GOOD;
out:
    OPENSSL_cleanse(plain, cipher_len ? cipher_len : 1);
    fp_free(plain);
    return rc;
}
