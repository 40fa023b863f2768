/*
 * test_opcua_crypto.c - unit tests of the security policies and chunk security.
 *
 * P_SHA256 against the published TLS 1.2 PRF vector, the policy table, channel
 * key derivation, round trips of securing and opening OPN and MSG chunks for
 * every policy and mode with keys generated here, tampered and malformed
 * chunks, padding edge cases (including ExtraPaddingSize with a 3072-bit key),
 * session signatures and the encrypted UserName password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fp_alloc.h"
#include "opcua/ua_crypto.h"
#include "opcua/ua_pki.h"

static ua_key *g_key_a;    /* 2048 bits: "client" */
static ua_key *g_key_b;    /* 2048 bits: "server" */
static ua_key *g_key_c;    /* 3072 bits: ExtraPaddingSize */
static ua_key *g_key_weak; /* 1024 bits: below every policy */

static const ua_policy_id secure_ids[] = {
    UA_POLICY_BASIC256SHA256,
    UA_POLICY_AES128_SHA256_RSAOAEP,
    UA_POLICY_AES256_SHA256_RSAPSS,
};
#define N_SECURE (sizeof secure_ids / sizeof secure_ids[0])

static int setup_keys(void **state)
{
    (void)state;
    if (ua_key_generate_rsa(2048, &g_key_a) || ua_key_generate_rsa(2048, &g_key_b) ||
        ua_key_generate_rsa(3072, &g_key_c) || ua_key_generate_rsa(1024, &g_key_weak))
        return -1;
    return 0;
}

static int teardown_keys(void **state)
{
    (void)state;
    ua_key_free(g_key_a);
    ua_key_free(g_key_b);
    ua_key_free(g_key_c);
    ua_key_free(g_key_weak);
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void hex(const char *z, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char b[3] = {z[2 * i], z[2 * i + 1], 0};
        out[i] = (uint8_t)strtoul(b, NULL, 16);
    }
}

/* ------------------------------------------------------------------------ */

static void test_p_sha256_vector(void **state)
{
    /* TLS 1.2 PRF test vector (SHA-256): PRF(secret, "test label", seed) =
     * P_SHA256(secret, "test label" + seed), 100 bytes. */
    static const char secret_hex[] = "9bbe436ba940f017b17652849a71db35";
    static const char seed_hex[] = "a0ba9f936cda311827a6f796ffd5198c";
    static const char expect_hex[] =
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9"
        "c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789ba"
        "a48082d122ee42c5a72e5a5110fff70187347b66";
    uint8_t secret[16], seed[10 + 16], expect[100], out[100], part[37];

    (void)state;
    hex(secret_hex, secret, sizeof secret);
    memcpy(seed, "test label", 10);
    hex(seed_hex, seed + 10, 16);
    hex(expect_hex, expect, sizeof expect);
    assert_int_equal(ua_p_sha256(secret, sizeof secret, seed, sizeof seed, out, sizeof out),
                     UA_STATUS_GOOD);
    assert_memory_equal(out, expect, sizeof expect);
    /* A shorter output is a prefix of the longer one. */
    assert_int_equal(ua_p_sha256(secret, sizeof secret, seed, sizeof seed, part, sizeof part),
                     UA_STATUS_GOOD);
    assert_memory_equal(part, expect, sizeof part);
    assert_int_equal(ua_p_sha256(secret, sizeof secret, seed, sizeof seed, out, 0), UA_STATUS_GOOD);
    assert_int_equal(ua_p_sha256(secret, sizeof secret, NULL, 5, out, 4),
                     UA_STATUS_BAD_INVALID_ARGUMENT);
}

static void test_policy_table(void **state)
{
    const ua_security_policy *p;

    (void)state;
    p = ua_policy_by_uri("http://opcfoundation.org/UA/SecurityPolicy#None");
    assert_non_null(p);
    assert_int_equal(p->id, UA_POLICY_NONE);
    assert_null(p->asym_sign);
    assert_int_equal(p->nonce_len, 0);

    p = ua_policy_by_uri("http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256");
    assert_non_null(p);
    assert_ptr_equal(p, ua_policy_by_name("Basic256Sha256"));
    assert_int_equal(p->version, UA_SECURITY_POLICY_VERSION);
    assert_int_equal(p->sym_enc_key_len, 32);
    assert_int_equal(p->sym_sig_key_len, 32);
    assert_int_equal(p->sym_sig_len, 32);
    assert_int_equal(p->sym_block_len, 16);
    assert_int_equal(p->nonce_len, 32);
    assert_int_equal(p->min_key_bits, 2048);
    assert_int_equal(p->max_key_bits, 4096);
    assert_int_equal(p->asym_enc_overhead, 42);
    assert_string_equal(p->asym_sig_uri, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
    assert_string_equal(p->asym_enc_uri, "http://www.w3.org/2001/04/xmlenc#rsa-oaep");

    p = ua_policy_by_name("Aes128_Sha256_RsaOaep");
    assert_non_null(p);
    assert_string_equal(p->uri, "http://opcfoundation.org/UA/SecurityPolicy#Aes128_Sha256_RsaOaep");
    assert_int_equal(p->sym_enc_key_len, 16);
    assert_int_equal(p->sym_sig_key_len, 32);
    assert_int_equal(p->asym_enc_overhead, 42);

    p = ua_policy_by_name("Aes256_Sha256_RsaPss");
    assert_non_null(p);
    assert_int_equal(p->sym_enc_key_len, 32);
    assert_int_equal(p->asym_enc_overhead, 66);
    assert_string_equal(p->asym_sig_uri, "http://opcfoundation.org/UA/security/rsa-pss-sha2-256");
    assert_string_equal(p->asym_enc_uri, "http://opcfoundation.org/UA/security/rsa-oaep-sha2-256");

    /* The list offered to users is the table's URIs, in order; a name is what follows '#'. */
    for (int i = 0; i < UA_POLICY_COUNT; i++) {
        p = ua_policy_by_id((ua_policy_id)i);
        assert_ptr_equal(ua_policy_uris[i], p->uri);
        assert_string_equal(strrchr(p->uri, '#') + 1, p->name);
    }
    assert_null(ua_policy_uris[UA_POLICY_COUNT]);

    assert_null(ua_policy_by_name("Basic128Rsa15"));
    assert_null(ua_policy_by_uri("http://opcfoundation.org/UA/SecurityPolicy#Basic256"));
    assert_null(ua_policy_by_uri_len("http://opcfoundation.org/UA/SecurityPolicy#None", 10));
    assert_null(ua_policy_by_id(UA_POLICY_COUNT));
    assert_string_equal(ua_status_name(UA_STATUS_BAD_SECURITY_CHECKS_FAILED),
                        "BadSecurityChecksFailed");
    assert_int_equal(ua_security_mode_from_name("SignAndEncrypt"),
                     UA_SECURITY_MODE_SIGN_AND_ENCRYPT);
    assert_int_equal(ua_security_mode_from_name("sign"), UA_SECURITY_MODE_INVALID);
    assert_string_equal(ua_security_mode_name(UA_SECURITY_MODE_SIGN), "Sign");
    assert_string_equal(ua_security_mode_name((ua_security_mode)9), "Invalid");
}

static void test_channel_keys(void **state)
{
    uint8_t cn[32], sn[32], expect[32 + 32 + 16];
    ua_sym_keys ck, sk;

    (void)state;
    for (size_t i = 0; i < N_SECURE; i++) {
        const ua_security_policy *p = ua_policy_by_id(secure_ids[i]);
        size_t n = p->sym_sig_key_len + p->sym_enc_key_len + p->sym_block_len;

        assert_int_equal(ua_random_bytes(cn, sizeof cn), UA_STATUS_GOOD);
        assert_int_equal(ua_random_bytes(sn, sizeof sn), UA_STATUS_GOOD);
        assert_int_equal(ua_channel_keys_derive(p, cn, 32, sn, 32, &ck, &sk), UA_STATUS_GOOD);
        /* Client keys: secret = server nonce, seed = client nonce. */
        assert_int_equal(ua_p_sha256(sn, 32, cn, 32, expect, n), UA_STATUS_GOOD);
        assert_memory_equal(ck.sig_key, expect, p->sym_sig_key_len);
        assert_memory_equal(ck.enc_key, expect + p->sym_sig_key_len, p->sym_enc_key_len);
        assert_memory_equal(ck.iv, expect + p->sym_sig_key_len + p->sym_enc_key_len, 16);
        assert_int_equal(ua_p_sha256(cn, 32, sn, 32, expect, n), UA_STATUS_GOOD);
        assert_memory_equal(sk.sig_key, expect, p->sym_sig_key_len);
        assert_memory_equal(sk.iv, expect + p->sym_sig_key_len + p->sym_enc_key_len, 16);
        assert_int_equal(ua_channel_keys_derive(p, cn, 31, sn, 32, &ck, &sk),
                         UA_STATUS_BAD_NONCE_INVALID);
        assert_int_equal(ua_channel_keys_derive(p, cn, 32, NULL, 0, &ck, &sk),
                         UA_STATUS_BAD_NONCE_INVALID);
    }
}

/* ------------------------------------------------------------------------ */
/* Symmetric chunks                                                          */
/* ------------------------------------------------------------------------ */

/* A MSG chunk with body_len bytes of body; returns the body end. */
static size_t make_msg(uint8_t *buf, size_t body_len)
{
    memcpy(buf, "MSGF", 4);
    put_u32(buf + 4, 0);
    put_u32(buf + 8, 7);    /* channel id */
    put_u32(buf + 12, 3);   /* token id */
    put_u32(buf + 16, 51);  /* sequence number */
    put_u32(buf + 20, 100); /* request id */
    for (size_t i = 0; i < body_len; i++)
        buf[24 + i] = (uint8_t)(i * 7 + 1);
    return 24 + body_len;
}

static void derive_pair(const ua_security_policy *p, ua_sym_keys *ck, ua_sym_keys *sk)
{
    uint8_t cn[32], sn[32];

    assert_int_equal(ua_random_bytes(cn, sizeof cn), UA_STATUS_GOOD);
    assert_int_equal(ua_random_bytes(sn, sizeof sn), UA_STATUS_GOOD);
    assert_int_equal(ua_channel_keys_derive(p, cn, 32, sn, 32, ck, sk), UA_STATUS_GOOD);
}

static void test_sym_roundtrip(void **state)
{
    static uint8_t buf[4096], orig[4096];
    ua_sym_keys ck, sk;
    const ua_security_mode modes[] = {UA_SECURITY_MODE_SIGN, UA_SECURITY_MODE_SIGN_AND_ENCRYPT};

    (void)state;
    for (size_t i = 0; i < N_SECURE; i++) {
        const ua_security_policy *p = ua_policy_by_id(secure_ids[i]);
        derive_pair(p, &ck, &sk);
        for (size_t m = 0; m < 2; m++) {
            for (size_t body = 0; body < 300; body += (body < 64 ? 1 : 37)) {
                size_t end = make_msg(buf, body), len = 0, body_end = 0;
                ua_chunk_layout lay;

                memcpy(orig, buf, end);
                assert_int_equal(ua_sym_chunk_layout(p, modes[m], end, &lay), UA_STATUS_GOOD);
                assert_int_equal(ua_sym_chunk_secure(p, modes[m], &ck, buf, sizeof buf, end, &len),
                                 UA_STATUS_GOOD);
                assert_int_equal(len, lay.chunk_len);
                assert_int_equal(buf[4] | buf[5] << 8, len);
                if (modes[m] == UA_SECURITY_MODE_SIGN_AND_ENCRYPT) {
                    assert_int_equal((len - UA_SYM_SEC_HDR_END) % 16, 0);
                    assert_true(lay.padding_len >= 1 && lay.padding_len <= 16);
                    /* Sequence header no longer readable in clear. */
                    assert_memory_not_equal(buf + 16, orig + 16, 8);
                } else {
                    assert_int_equal(len, end + 32);
                    assert_memory_equal(buf + 16, orig + 16, end - 16);
                }
                /* The receiver opens with the sender's keys. */
                assert_int_equal(ua_sym_chunk_open(p, modes[m], &ck, buf, len, &body_end),
                                 UA_STATUS_GOOD);
                assert_int_equal(body_end, end);
                assert_memory_equal(buf + 8, orig + 8, end - 8);
            }
        }
    }
}

static void test_sym_tampered(void **state)
{
    uint8_t buf[256], good[256];
    ua_sym_keys ck, sk;
    size_t body_end;

    (void)state;
    for (size_t i = 0; i < N_SECURE; i++) {
        const ua_security_policy *p = ua_policy_by_id(secure_ids[i]);
        for (int m = UA_SECURITY_MODE_SIGN; m <= UA_SECURITY_MODE_SIGN_AND_ENCRYPT; m++) {
            size_t end = make_msg(buf, 41), len = 0;

            derive_pair(p, &ck, &sk);
            assert_int_equal(ua_sym_chunk_secure(p, m, &ck, buf, sizeof buf, end, &len),
                             UA_STATUS_GOOD);
            memcpy(good, buf, len);
            /* Every single bit flip anywhere is detected. */
            for (size_t pos = 0; pos < len; pos++) {
                memcpy(buf, good, len);
                buf[pos] ^= 0x10;
                assert_int_equal(ua_sym_chunk_open(p, m, &ck, buf, len, &body_end),
                                 UA_STATUS_BAD_SECURITY_CHECKS_FAILED);
            }
            /* Wrong keys (the other direction). */
            memcpy(buf, good, len);
            assert_int_equal(ua_sym_chunk_open(p, m, &sk, buf, len, &body_end),
                             UA_STATUS_BAD_SECURITY_CHECKS_FAILED);
            /* Truncated, with a matching MessageSize. */
            for (size_t cut = 1; cut < len; cut += 5) {
                memcpy(buf, good, len);
                put_u32(buf + 4, (uint32_t)(len - cut));
                assert_int_equal(ua_sym_chunk_open(p, m, &ck, buf, len - cut, &body_end),
                                 UA_STATUS_BAD_SECURITY_CHECKS_FAILED);
            }
            /* Mode mismatches. */
            memcpy(buf, good, len);
            assert_int_equal(ua_sym_chunk_open(p, UA_SECURITY_MODE_NONE, &ck, buf, len, &body_end),
                             UA_STATUS_BAD_SECURITY_MODE_REJECTED);
        }
    }
}

/* A chunk with a valid HMAC and encryption but padding forged by the sender:
 * the padding check after the signature must reject it without reading out
 * of bounds. */
static void test_sym_forged_padding(void **state)
{
    const ua_security_policy *p = ua_policy_by_name("Basic256Sha256");
    uint8_t buf[128];
    ua_sym_keys ck, sk;
    size_t body_end;
    const struct {
        uint8_t pad_byte; /* PaddingSize written */
        uint8_t fill;     /* value of the other padding bytes */
    } cases[] = {{255, 255}, {40, 40}, {15, 15}, {15, 14}, {7, 7}, {7, 6}, {0, 0}};

    (void)state;
    derive_pair(p, &ck, &sk);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* 16 header, 8 sequence header, 8 body, a 16-byte padding field and
         * 32 signature bytes = 80; PaddingSize is byte 47. */
        size_t len = 80, expect_end = 0;
        uint32_t expect = UA_STATUS_BAD_SECURITY_CHECKS_FAILED;

        make_msg(buf, 8);
        memset(buf + 32, cases[c].fill, 16);
        buf[47] = cases[c].pad_byte;
        put_u32(buf + 4, (uint32_t)len);
        assert_int_equal(p->sym_sign(ck.sig_key, buf, 48, buf + 48), UA_STATUS_GOOD);
        assert_int_equal(p->sym_encrypt(ck.enc_key, ck.iv, buf + 16, len - 16), UA_STATUS_GOOD);
        if (cases[c].pad_byte == cases[c].fill && cases[c].pad_byte <= 15) {
            /* Well-formed, if not minimal: the body ends before the padding. */
            expect = UA_STATUS_GOOD;
            expect_end = 47 - cases[c].pad_byte;
        }
        assert_int_equal(
            ua_sym_chunk_open(p, UA_SECURITY_MODE_SIGN_AND_ENCRYPT, &ck, buf, len, &body_end),
            expect);
        if (expect == UA_STATUS_GOOD)
            assert_int_equal(body_end, expect_end);
    }
}

static void test_sym_sizes(void **state)
{
    const ua_security_policy *p = ua_policy_by_name("Aes128_Sha256_RsaOaep");
    const ua_security_policy *none = ua_policy_by_id(UA_POLICY_NONE);
    static uint8_t buf[8192];
    ua_sym_keys ck, sk;
    size_t max_body = 0, len = 0, body_end = 0;

    (void)state;
    derive_pair(p, &ck, &sk);
    for (size_t chunk_max = 8192; chunk_max > 8150; chunk_max--) {
        assert_int_equal(
            ua_sym_chunk_max_body(p, UA_SECURITY_MODE_SIGN_AND_ENCRYPT, chunk_max, &max_body),
            UA_STATUS_GOOD);
        make_msg(buf, max_body);
        assert_int_equal(ua_sym_chunk_secure(p, UA_SECURITY_MODE_SIGN_AND_ENCRYPT, &ck, buf,
                                             chunk_max, 24 + max_body, &len),
                         UA_STATUS_GOOD);
        assert_true(len <= chunk_max);
        make_msg(buf, max_body + 16);
        assert_int_equal(ua_sym_chunk_secure(p, UA_SECURITY_MODE_SIGN_AND_ENCRYPT, &ck, buf,
                                             chunk_max, 24 + max_body + 16, &len),
                         UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE);
    }
    assert_int_equal(ua_sym_chunk_max_body(p, UA_SECURITY_MODE_SIGN, 8192, &max_body),
                     UA_STATUS_GOOD);
    assert_int_equal(max_body, 8192 - 16 - 8 - 32);
    assert_int_equal(ua_sym_chunk_max_body(p, UA_SECURITY_MODE_SIGN, 40, &max_body),
                     UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE);
    /* None: pass-through, MessageSize set. */
    len = make_msg(buf, 10);
    assert_int_equal(
        ua_sym_chunk_secure(none, UA_SECURITY_MODE_NONE, NULL, buf, sizeof buf, len, &len),
        UA_STATUS_GOOD);
    assert_int_equal(len, 34);
    assert_int_equal(ua_sym_chunk_open(none, UA_SECURITY_MODE_NONE, NULL, buf, len, &body_end),
                     UA_STATUS_GOOD);
    assert_int_equal(body_end, 34);
    /* No silent downgrade: a secure policy with mode None and None with Sign are refused. */
    assert_int_equal(ua_sym_chunk_secure(p, UA_SECURITY_MODE_NONE, &ck, buf, sizeof buf, 34, &len),
                     UA_STATUS_BAD_SECURITY_MODE_REJECTED);
    assert_int_equal(ua_sym_chunk_open(none, UA_SECURITY_MODE_SIGN, &ck, buf, 34, &body_end),
                     UA_STATUS_BAD_SECURITY_MODE_REJECTED);
}

/* ------------------------------------------------------------------------ */
/* Asymmetric chunks                                                         */
/* ------------------------------------------------------------------------ */

/* An OPN chunk: message header, asymmetric security header with policy URI,
 * sender cert (fake bytes, the functions do not look at it) and thumbprint,
 * sequence header and body. Returns the body end; *sec_hdr_end set. */
static size_t make_opn(uint8_t *buf, const ua_security_policy *p, size_t body_len,
                       size_t *sec_hdr_end)
{
    size_t off = 12, n = strlen(p->uri);

    memcpy(buf, "OPNF", 4);
    put_u32(buf + 4, 0);
    put_u32(buf + 8, 0);
    put_u32(buf + off, (uint32_t)n);
    memcpy(buf + off + 4, p->uri, n);
    off += 4 + n;
    put_u32(buf + off, 5);
    memcpy(buf + off + 4, "CERT!", 5);
    off += 9;
    put_u32(buf + off, 20);
    memset(buf + off + 4, 0xab, 20);
    off += 24;
    *sec_hdr_end = off;
    put_u32(buf + off, 1);
    put_u32(buf + off + 4, 1);
    off += 8;
    for (size_t i = 0; i < body_len; i++)
        buf[off + i] = (uint8_t)(i * 13 + 5);
    return off + body_len;
}

static void asym_roundtrip(const ua_security_policy *p, ua_key *sender, ua_key *receiver,
                           size_t body_len)
{
    static uint8_t buf[16384], orig[16384];
    size_t sec_end, end = make_opn(buf, p, body_len, &sec_end), len = 0, body_end = 0;
    ua_chunk_layout lay;
    ua_asym_header hdr;
    size_t k = ua_key_bytes(receiver), pb = k - p->asym_enc_overhead;

    memcpy(orig, buf, end);
    assert_int_equal(ua_asym_chunk_layout(p, sender, receiver, sec_end, end, &lay), UA_STATUS_GOOD);
    assert_int_equal(lay.plain_len % pb, 0);
    assert_int_equal(lay.sig_len, ua_key_bytes(sender));
    if (k > 256)
        assert_true(lay.padding_len >= 2);
    else
        assert_true(lay.padding_len >= 1 && lay.padding_len <= 256);
    assert_int_equal(ua_asym_chunk_secure(p, sender, receiver, buf, sizeof buf, sec_end, end, &len),
                     UA_STATUS_GOOD);
    assert_int_equal(len, lay.chunk_len);
    assert_int_equal((len - sec_end) % k, 0);
    assert_int_equal(ua_asym_header_parse(buf, len, &hdr), UA_STATUS_GOOD);
    assert_int_equal(hdr.end, sec_end);
    assert_int_equal(hdr.policy_uri_len, strlen(p->uri));
    assert_int_equal(ua_asym_chunk_open(p, receiver, sender, buf, len, sec_end, &body_end),
                     UA_STATUS_GOOD);
    assert_int_equal(body_end, end);
    assert_memory_equal(buf + 8, orig + 8, end - 8);
}

static void test_asym_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SECURE; i++) {
        const ua_security_policy *p = ua_policy_by_id(secure_ids[i]);
        const size_t bodies[] = {0, 1, 100, 213, 214, 215, 500, 1000, 3000};
        for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
            asym_roundtrip(p, g_key_a, g_key_b, bodies[b]);
            asym_roundtrip(p, g_key_b, g_key_a, bodies[b]);
        }
    }
}

/* A 3072-bit receiving key needs the ExtraPaddingSize byte; walk body lengths
 * over more than a whole plaintext block so that padding lengths above 255
 * (high byte set) occur. */
static void test_asym_extra_padding(void **state)
{
    const ua_security_policy *p = ua_policy_by_name("Basic256Sha256");
    const ua_security_policy *pss = ua_policy_by_name("Aes256_Sha256_RsaPss");
    bool saw_high = false;

    (void)state;
    for (size_t body = 0; body < 400; body += 9) {
        size_t sec_end;
        uint8_t buf[2048];
        size_t end = make_opn(buf, p, body, &sec_end);
        ua_chunk_layout lay;
        assert_int_equal(ua_asym_chunk_layout(p, g_key_a, g_key_c, sec_end, end, &lay),
                         UA_STATUS_GOOD);
        if (lay.padding_len - 2 > 255)
            saw_high = true;
        asym_roundtrip(p, g_key_a, g_key_c, body);
    }
    assert_true(saw_high);
    asym_roundtrip(pss, g_key_c, g_key_a, 77);
    asym_roundtrip(pss, g_key_a, g_key_c, 77);
}

static void test_asym_tampered(void **state)
{
    static uint8_t buf[4096], good[4096];
    size_t sec_end, len = 0, body_end = 0;

    (void)state;
    for (size_t i = 0; i < N_SECURE; i++) {
        const ua_security_policy *p = ua_policy_by_id(secure_ids[i]);
        size_t end = make_opn(buf, p, 300, &sec_end);
        const size_t positions[] = {0,
                                    3,
                                    12,
                                    20,
                                    sec_end,
                                    sec_end + 1,
                                    sec_end + 100,
                                    sec_end + 255,
                                    sec_end + 256,
                                    sec_end + 511};

        assert_int_equal(
            ua_asym_chunk_secure(p, g_key_a, g_key_b, buf, sizeof buf, sec_end, end, &len),
            UA_STATUS_GOOD);
        memcpy(good, buf, len);
        for (size_t j = 0; j < sizeof positions / sizeof positions[0]; j++) {
            memcpy(buf, good, len);
            buf[positions[j]] ^= 0x01;
            assert_int_equal(ua_asym_chunk_open(p, g_key_b, g_key_a, buf, len, sec_end, &body_end),
                             UA_STATUS_BAD_SECURITY_CHECKS_FAILED);
        }
        /* The last byte as well. */
        memcpy(buf, good, len);
        buf[len - 1] ^= 0x80;
        assert_int_equal(ua_asym_chunk_open(p, g_key_b, g_key_a, buf, len, sec_end, &body_end),
                         UA_STATUS_BAD_SECURITY_CHECKS_FAILED);
        /* Wrong receiver key, wrong sender key. */
        memcpy(buf, good, len);
        assert_int_equal(ua_asym_chunk_open(p, g_key_a, g_key_a, buf, len, sec_end, &body_end),
                         UA_STATUS_BAD_SECURITY_CHECKS_FAILED);
        memcpy(buf, good, len);
        assert_int_equal(ua_asym_chunk_open(p, g_key_b, g_key_b, buf, len, sec_end, &body_end),
                         UA_STATUS_BAD_SECURITY_CHECKS_FAILED);
        /* Not a whole number of blocks. */
        memcpy(buf, good, len);
        put_u32(buf + 4, (uint32_t)(len - 1));
        assert_int_equal(ua_asym_chunk_open(p, g_key_b, g_key_a, buf, len - 1, sec_end, &body_end),
                         UA_STATUS_BAD_SECURITY_CHECKS_FAILED);
        /* MessageSize disagreeing with the length. */
        memcpy(buf, good, len);
        put_u32(buf + 4, (uint32_t)(len + 1));
        assert_int_equal(ua_asym_chunk_open(p, g_key_b, g_key_a, buf, len, sec_end, &body_end),
                         UA_STATUS_BAD_SECURITY_CHECKS_FAILED);
        /* Keys outside the policy. */
        memcpy(buf, good, len);
        assert_int_equal(ua_asym_chunk_open(p, g_key_b, g_key_weak, buf, len, sec_end, &body_end),
                         UA_STATUS_BAD_SECURITY_POLICY_REJECTED);
        end = make_opn(buf, p, 10, &sec_end);
        assert_int_equal(
            ua_asym_chunk_secure(p, g_key_a, g_key_weak, buf, sizeof buf, sec_end, end, &len),
            UA_STATUS_BAD_SECURITY_POLICY_REJECTED);
    }
}

/* Valid encryption and signature around forged padding. */
static void test_asym_forged_padding(void **state)
{
    const ua_security_policy *p = ua_policy_by_name("Basic256Sha256");
    static uint8_t buf[4096], plain[4096];
    size_t sec_end, body_end, pb = 256 - 42, sig = 256, out_len = 0;
    size_t end = make_opn(buf, p, 0, &sec_end);
    size_t n_plain = pb * 2;

    (void)state;
    (void)end;
    /* Plaintext: seq header, then padding claiming more bytes than exist. */
    memset(buf + sec_end + 8, 0xff, n_plain - 8 - sig);
    put_u32(buf + 4, (uint32_t)(sec_end + 2 * 256));
    assert_int_equal(
        p->asym_sign(g_key_a, buf, sec_end + n_plain - sig, buf + sec_end + n_plain - sig),
        UA_STATUS_GOOD);
    memcpy(plain, buf + sec_end, n_plain);
    assert_int_equal(p->asym_encrypt(g_key_b, plain, n_plain, buf + sec_end, 512, &out_len),
                     UA_STATUS_GOOD);
    assert_int_equal(out_len, 512);
    /* 0xff padding of 172 bytes: PaddingSize 255 > available. */
    assert_int_equal(
        ua_asym_chunk_open(p, g_key_b, g_key_a, buf, sec_end + 512, sec_end, &body_end),
        UA_STATUS_BAD_SECURITY_CHECKS_FAILED);
}

static void test_asym_header_parse(void **state)
{
    uint8_t buf[64];
    ua_asym_header hdr;

    (void)state;
    memset(buf, 0, sizeof buf);
    memcpy(buf, "OPNF", 4);
    put_u32(buf + 12, 4);
    memcpy(buf + 16, "abcd", 4);
    put_u32(buf + 20, 0xffffffffu); /* null certificate */
    put_u32(buf + 24, 0);           /* empty thumbprint */
    assert_int_equal(ua_asym_header_parse(buf, 28, &hdr), UA_STATUS_GOOD);
    assert_int_equal(hdr.end, 28);
    assert_null(hdr.sender_cert);
    assert_int_equal(hdr.policy_uri_len, 4);
    for (size_t n = 0; n < 28; n++)
        assert_int_equal(ua_asym_header_parse(buf, n, &hdr), UA_STATUS_BAD_DECODING_ERROR);
    put_u32(buf + 12, 0x7fffffff);
    assert_int_equal(ua_asym_header_parse(buf, 28, &hdr), UA_STATUS_BAD_DECODING_ERROR);
    put_u32(buf + 12, 0xfffffffe); /* -2 */
    assert_int_equal(ua_asym_header_parse(buf, 28, &hdr), UA_STATUS_BAD_DECODING_ERROR);
    put_u32(buf + 12, 25);
    assert_int_equal(ua_asym_header_parse(buf, 40, &hdr), UA_STATUS_BAD_DECODING_ERROR);
}

static void test_asym_none_and_sizes(void **state)
{
    const ua_security_policy *none = ua_policy_by_id(UA_POLICY_NONE);
    const ua_security_policy *p = ua_policy_by_name("Aes256_Sha256_RsaPss");
    static uint8_t buf[8192];
    size_t sec_end, end, len = 0, body_end = 0, max_body = 0;

    (void)state;
    end = make_opn(buf, none, 20, &sec_end);
    assert_int_equal(ua_asym_chunk_secure(none, NULL, NULL, buf, sizeof buf, sec_end, end, &len),
                     UA_STATUS_GOOD);
    assert_int_equal(len, end);
    assert_int_equal(ua_asym_chunk_open(none, NULL, NULL, buf, len, sec_end, &body_end),
                     UA_STATUS_GOOD);
    assert_int_equal(body_end, end);

    for (size_t chunk_max = 8192; chunk_max > 7000; chunk_max -= 97) {
        assert_int_equal(ua_asym_chunk_max_body(p, g_key_a, g_key_c, sec_end, chunk_max, &max_body),
                         UA_STATUS_GOOD);
        end = make_opn(buf, p, max_body, &sec_end);
        assert_int_equal(
            ua_asym_chunk_secure(p, g_key_a, g_key_c, buf, chunk_max, sec_end, end, &len),
            UA_STATUS_GOOD);
        assert_true(len <= chunk_max);
        end = make_opn(buf, p, max_body + 1, &sec_end);
        assert_int_equal(
            ua_asym_chunk_secure(p, g_key_a, g_key_c, buf, chunk_max, sec_end, end, &len),
            UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE);
    }
    assert_int_equal(ua_asym_chunk_max_body(p, g_key_a, g_key_b, sec_end, sec_end + 100, &max_body),
                     UA_STATUS_BAD_TCP_MESSAGE_TOO_LARGE);
}

/* Random bytes into both open paths must fail cleanly, never crash. */
static void test_open_garbage(void **state)
{
    static uint8_t buf[2048];
    ua_sym_keys ck, sk;
    size_t body_end;

    (void)state;
    for (size_t i = 0; i < N_SECURE; i++) {
        const ua_security_policy *p = ua_policy_by_id(secure_ids[i]);
        derive_pair(p, &ck, &sk);
        for (size_t len = 0; len < 600; len += 13) {
            ua_random_bytes(buf, len);
            if (len >= 8)
                put_u32(buf + 4, (uint32_t)len);
            assert_int_not_equal(
                ua_sym_chunk_open(p, UA_SECURITY_MODE_SIGN_AND_ENCRYPT, &ck, buf, len, &body_end),
                UA_STATUS_GOOD);
            assert_int_not_equal(
                ua_sym_chunk_open(p, UA_SECURITY_MODE_SIGN, &ck, buf, len, &body_end),
                UA_STATUS_GOOD);
        }
        for (size_t len = 12; len < 12 + 3 * 256 + 1; len += 64) {
            ua_random_bytes(buf, len);
            put_u32(buf + 4, (uint32_t)len);
            assert_int_not_equal(ua_asym_chunk_open(p, g_key_b, g_key_a, buf, len, 12, &body_end),
                                 UA_STATUS_GOOD);
        }
        ua_random_bytes(buf, 12 + 512);
        put_u32(buf + 4, 12 + 512);
        assert_int_equal(ua_asym_chunk_open(p, g_key_b, g_key_a, buf, 12 + 512, 12, &body_end),
                         UA_STATUS_BAD_SECURITY_CHECKS_FAILED);
    }
}

/* ------------------------------------------------------------------------ */
/* Session signature and password                                            */
/* ------------------------------------------------------------------------ */

static void test_session_signature(void **state)
{
    uint8_t cert[700], nonce[32];
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    const ua_security_policy *pkcs = ua_policy_by_name("Basic256Sha256");
    const ua_security_policy *pss = ua_policy_by_name("Aes256_Sha256_RsaPss");

    (void)state;
    ua_random_bytes(cert, sizeof cert);
    ua_random_bytes(nonce, sizeof nonce);
    for (size_t i = 0; i < N_SECURE; i++) {
        const ua_security_policy *p = ua_policy_by_id(secure_ids[i]);
        assert_int_equal(
            ua_session_sign(p, g_key_a, cert, sizeof cert, nonce, sizeof nonce, &sig, &sig_len),
            UA_STATUS_GOOD);
        assert_int_equal(sig_len, 256);
        assert_int_equal(
            ua_session_verify(p, g_key_a, cert, sizeof cert, nonce, sizeof nonce, sig, sig_len),
            UA_STATUS_GOOD);
        nonce[0] ^= 1;
        assert_int_equal(
            ua_session_verify(p, g_key_a, cert, sizeof cert, nonce, sizeof nonce, sig, sig_len),
            UA_STATUS_BAD_APPLICATION_SIGNATURE_INVALID);
        nonce[0] ^= 1;
        assert_int_equal(
            ua_session_verify(p, g_key_b, cert, sizeof cert, nonce, sizeof nonce, sig, sig_len),
            UA_STATUS_BAD_APPLICATION_SIGNATURE_INVALID);
        assert_int_equal(
            ua_session_verify(p, g_key_a, cert, sizeof cert, nonce, sizeof nonce, sig, sig_len - 1),
            UA_STATUS_BAD_APPLICATION_SIGNATURE_INVALID);
        fp_free(sig);
    }
    /* PSS and PKCS#1 v1.5 signatures are not interchangeable. */
    assert_int_equal(
        ua_session_sign(pss, g_key_a, cert, sizeof cert, nonce, sizeof nonce, &sig, &sig_len),
        UA_STATUS_GOOD);
    assert_int_equal(
        ua_session_verify(pkcs, g_key_a, cert, sizeof cert, nonce, sizeof nonce, sig, sig_len),
        UA_STATUS_BAD_APPLICATION_SIGNATURE_INVALID);
    fp_free(sig);
    assert_int_equal(ua_session_sign(ua_policy_by_id(UA_POLICY_NONE), g_key_a, cert, sizeof cert,
                                     nonce, sizeof nonce, &sig, &sig_len),
                     UA_STATUS_BAD_SECURITY_POLICY_REJECTED);
    assert_int_equal(
        ua_session_sign(pkcs, g_key_weak, cert, sizeof cert, nonce, sizeof nonce, &sig, &sig_len),
        UA_STATUS_BAD_SECURITY_POLICY_REJECTED);
}

static void test_password(void **state)
{
    uint8_t nonce[32], long_pw[600];
    uint8_t *ct = NULL, *pw = NULL;
    size_t ct_len = 0, pw_len = 0;

    (void)state;
    ua_random_bytes(nonce, sizeof nonce);
    memset(long_pw, 'x', sizeof long_pw);
    for (size_t i = 0; i < N_SECURE; i++) {
        const ua_security_policy *p = ua_policy_by_id(secure_ids[i]);
        const struct {
            const uint8_t *pw;
            size_t len;
        } cases[] = {{(const uint8_t *)"secret", 6}, {(const uint8_t *)"", 0}, {long_pw, 600}};

        for (size_t c = 0; c < 3; c++) {
            assert_int_equal(ua_password_encrypt(p, g_key_b, cases[c].pw, cases[c].len, nonce,
                                                 sizeof nonce, &ct, &ct_len),
                             UA_STATUS_GOOD);
            assert_int_equal(ct_len % 256, 0);
            assert_int_equal(ct_len, ua_asym_cipher_len(p, g_key_b, 4 + cases[c].len + 32));
            assert_int_equal(
                ua_password_decrypt(p, g_key_b, ct, ct_len, nonce, sizeof nonce, &pw, &pw_len),
                UA_STATUS_GOOD);
            assert_int_equal(pw_len, cases[c].len);
            if (pw_len)
                assert_memory_equal(pw, cases[c].pw, pw_len);
            fp_free(pw);
            pw = NULL;
            /* Another nonce (a replayed token) is refused. */
            nonce[5] ^= 1;
            assert_int_equal(
                ua_password_decrypt(p, g_key_b, ct, ct_len, nonce, sizeof nonce, &pw, &pw_len),
                UA_STATUS_BAD_NONCE_INVALID);
            nonce[5] ^= 1;
            /* The wrong private key, and tampering. */
            assert_int_equal(
                ua_password_decrypt(p, g_key_a, ct, ct_len, nonce, sizeof nonce, &pw, &pw_len),
                UA_STATUS_BAD_IDENTITY_TOKEN_INVALID);
            ct[10] ^= 1;
            assert_int_equal(
                ua_password_decrypt(p, g_key_b, ct, ct_len, nonce, sizeof nonce, &pw, &pw_len),
                UA_STATUS_BAD_IDENTITY_TOKEN_INVALID);
            assert_int_equal(
                ua_password_decrypt(p, g_key_b, ct, ct_len - 3, nonce, sizeof nonce, &pw, &pw_len),
                UA_STATUS_BAD_IDENTITY_TOKEN_INVALID);
            fp_free(ct);
            ct = NULL;
        }
    }
    /* Length prefix that lies. */
    {
        const ua_security_policy *p = ua_policy_by_name("Basic256Sha256");
        uint8_t plain[4 + 3 + 32], cbuf[256];
        size_t n = 0;
        put_u32(plain, 1000);
        memcpy(plain + 4, "abc", 3);
        memcpy(plain + 7, nonce, 32);
        assert_int_equal(p->asym_encrypt(g_key_b, plain, sizeof plain, cbuf, sizeof cbuf, &n),
                         UA_STATUS_GOOD);
        assert_int_equal(ua_password_decrypt(p, g_key_b, cbuf, n, nonce, 32, &pw, &pw_len),
                         UA_STATUS_BAD_IDENTITY_TOKEN_INVALID);
    }
    assert_int_equal(ua_password_encrypt(ua_policy_by_id(UA_POLICY_NONE), g_key_b,
                                         (const uint8_t *)"a", 1, nonce, 32, &ct, &ct_len),
                     UA_STATUS_BAD_SECURITY_POLICY_REJECTED);
    assert_int_equal(ua_password_encrypt(ua_policy_by_name("Basic256Sha256"), g_key_b,
                                         (const uint8_t *)"a", 1, nonce, 0, &ct, &ct_len),
                     UA_STATUS_BAD_NONCE_INVALID);
}

static void test_alloc_failures(void **state)
{
    const ua_security_policy *p = ua_policy_by_name("Basic256Sha256");
    uint8_t nonce[32] = {1};
    uint8_t *out = NULL;
    size_t out_len = 0;

    (void)state;
    for (long n = 0; n < 3; n++) {
        uint32_t rc;
        fp_alloc_fail_after(n);
        rc = ua_password_encrypt(p, g_key_b, (const uint8_t *)"pw", 2, nonce, 32, &out, &out_len);
        fp_alloc_fail_after(-1);
        if (rc == UA_STATUS_GOOD)
            fp_free(out);
        else
            assert_int_equal(rc, UA_STATUS_BAD_OUT_OF_MEMORY);
        fp_alloc_fail_after(n);
        rc = ua_session_sign(p, g_key_a, nonce, 32, nonce, 32, &out, &out_len);
        fp_alloc_fail_after(-1);
        if (rc == UA_STATUS_GOOD)
            fp_free(out);
        else
            assert_int_equal(rc, UA_STATUS_BAD_OUT_OF_MEMORY);
    }
}

static void test_key_bytes(void **state)
{
    uint8_t *pem = NULL, *der = NULL;
    size_t pem_len = 0, der_len = 0;
    ua_key *k1 = NULL, *k2 = NULL;

    (void)state;
    assert_int_equal(ua_key_to_bytes(g_key_a, true, &pem, &pem_len), UA_STATUS_GOOD);
    assert_int_equal(ua_key_to_bytes(g_key_a, false, &der, &der_len), UA_STATUS_GOOD);
    assert_int_equal(ua_key_from_bytes(pem, pem_len, &k1), UA_STATUS_GOOD);
    assert_int_equal(ua_key_from_bytes(der, der_len, &k2), UA_STATUS_GOOD);
    assert_int_equal(ua_key_bits(k1), 2048);
    assert_true(ua_key_has_private(k2));
    ua_key_free(k1);
    assert_int_equal(ua_key_from_bytes((const uint8_t *)"nonsense", 8, &k1),
                     UA_STATUS_BAD_DECODING_ERROR);
    assert_null(k1);
    ua_key_free(k2);
    fp_free(pem);
    fp_free(der);
    ua_key_free(NULL);
    ua_cert_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p_sha256_vector),     cmocka_unit_test(test_policy_table),
        cmocka_unit_test(test_channel_keys),        cmocka_unit_test(test_sym_roundtrip),
        cmocka_unit_test(test_sym_tampered),        cmocka_unit_test(test_sym_forged_padding),
        cmocka_unit_test(test_sym_sizes),           cmocka_unit_test(test_asym_roundtrip),
        cmocka_unit_test(test_asym_extra_padding),  cmocka_unit_test(test_asym_tampered),
        cmocka_unit_test(test_asym_forged_padding), cmocka_unit_test(test_asym_header_parse),
        cmocka_unit_test(test_asym_none_and_sizes), cmocka_unit_test(test_open_garbage),
        cmocka_unit_test(test_session_signature),   cmocka_unit_test(test_password),
        cmocka_unit_test(test_alloc_failures),      cmocka_unit_test(test_key_bytes),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
