/*
 * fuzz_opcua_secure_chunk.c - libFuzzer harness for opening secured OPC UA chunks.
 *
 * Received chunks are the first thing a hostile server controls, so this feeds
 * them to the verify+decrypt paths of libfieldplane-opcua with fixed keys that
 * are built in here (two RSA keys, and channel keys derived from fixed
 * nonces). The first input byte selects what is tested:
 *
 *   bits 0-1  0: a raw MSG chunk into ua_sym_chunk_open
 *             1: a raw OPN chunk: ua_asym_header_parse, the sender certificate
 *                into ua_cert_from_bytes, then ua_asym_chunk_open
 *             2: the input as the plaintext of a MSG chunk that is correctly
 *                signed and encrypted here, so the fuzzer reaches the padding
 *                checks behind the signature
 *             3: the same for an OPN chunk (RSA signature and encryption)
 *   bits 2-3  the security policy (Basic256Sha256, Aes128_Sha256_RsaOaep,
 *             Aes256_Sha256_RsaPss)
 *   bit 4     symmetric mode Sign instead of SignAndEncrypt
 *   bit 5     our key is the 3072-bit one (ExtraPaddingSize) instead of 2048
 *
 * Built with -DFP_FUZZ_WRITE_SEEDS and linked without libFuzzer, the file is a
 * program that writes valid seeds for every mode into the folder it is given:
 *   cc -DFP_FUZZ_WRITE_SEEDS -Ilib/opcua/include -Iinclude/fieldplane \
 *      tests/fuzz/fuzz_opcua_secure_chunk.c build/dev/lib/opcua/libfpopcua.a \
 *      build/dev/lib/common/libfpcommon.a -lcrypto -o /tmp/seeds && /tmp/seeds DIR
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcua/ua_crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Test keys, generated once for this harness and used nowhere else. */
static const char key_2048_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC3vTEJFBEo7Tzi\n"
    "8A09pO9CvtWNZjDx0aWRD4D+3dPj2MzxkteJULU54cqv9XAYVueiT8FxpYLtOcrV\n"
    "7ZAzYxIIDKxlct4XI617+w4OrwGfVtAwFQEhgatyf/Vn5F6EP789CbOMhuuua9os\n"
    "VmYdMBPzo312KTfunELUjMyyKoNHuA1eyn54VqdFqQ3YFRhJtTRIfyGpA+jQllyQ\n"
    "X4+zFkuoiw015Il7ezPdSF6oraUJFXi/9eGOt1se4jTvw7yTjMD1aL861PJZFpy8\n"
    "Jwrfl0IN+xUGwmV+VSqcnHaXINcefrsH5jh4y2vKVE1lgqYyyQrDukLx0DYS0xtW\n"
    "IW90fGtZAgMBAAECggEAHpiYDkQeWWYr8eRPEs6gyEi2j0MO78MH4tXQlrWXX6/N\n"
    "7NpAHvhmvS/pYbn+rmbmT+PKZCN6Cl50dYGHi4RkpRzV0QI66Q0tXzcJT7j6YwSr\n"
    "Sp5syki+pSSZV8ayVdZhq4cuiWjm3RbORVImfezFcxhB6ke8gx+CjMSyH2cEkQ//\n"
    "WEyDph9XFzFykBbxiHx+YJclEtHkZi1aKELM0FdkfwkODE1EnB9Z9PDV3abcmnXR\n"
    "ALkEe05sohir4TnANh5aTxLLRwNEpQmZyr3zhEiajS6OM1ooUnem3H5zb03D7NX5\n"
    "tUNdfQbOcDyUkebr9GXszE82/d1krKwlHinogZim0wKBgQDsFumomyT5LDGAsO7w\n"
    "zF2czuV5vPlFVDd1FyIq2BblKsYHial8euipLpgwWkIhhsn29V7vCfdLHMWE5Ifd\n"
    "liBdCBOeqDoQfy5GNNAV1TAwbjiBC+AxbvrOr3aKc8gaeYgTCruZ0qDlVdV2LIXa\n"
    "tiZa27U+ikAP9sWbWHr05Upg3wKBgQDHPA0MBW60aKv1SRytpKIt5pbKTOhpjQ4c\n"
    "elzma/9yed7Y7CBhmBCBQNX34WDem6WiFItKsnDMuQGVJt09TDSL7a6WYv8CM0bD\n"
    "k5A4PPSaIHCWbfuur+hDjNibWdSq3WXRefj4FbqYvk8pxHjm+taCRHOFM8NOQ5lj\n"
    "ZW5uD2KixwKBgQDZtrd6+Lc74Pk1h/SQsqWROWp8vTvSJzuNCuxDPkq+wpcj1Fsr\n"
    "o9xyR7movVNGv5n314bYQQR/i+TKDEUOnqbxo8UUBmalV+NAcuuBdrudrccFmgIB\n"
    "FCrN9xkFzIe3gmNty/P8gjRFyMW02JIHgvoTx5B4P92b2yGXhBy/QcM5WQKBgEoH\n"
    "HxXrYtH33oT6UISYmoYRms+6OdUWSzr7oE8hq72+WLYjLnj0xpUwIRDElnjAPo/1\n"
    "sDfmC5GV4GeqFCR1j0S64NcSG4yWvuFmj/zFcWFfUlYisZSb2eJXkBhRDXsbXnyy\n"
    "JHcRo86jT8jGLuIsK84lXwMMU7Jd3b2X76tHXi/7AoGAcRt6vbPk0AF2vSlJir9a\n"
    "WID09LkOyJSNb1CTpyZ9f7QH8ZKngwNKNkf/OBfDXgdZtNtUz3pnhmzLWG+m0Dmr\n"
    "gjLfznWc+WIk5PACfTMuWkF+R8s6P88fatIenCwnsl+FI56dmi/Jqz3YFDn9Pszz\n"
    "WAj4DPKHjkf92YpKd8hFtSU=\n"
    "-----END PRIVATE KEY-----\n";
static const char key_3072_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIG/QIBADANBgkqhkiG9w0BAQEFAASCBucwggbjAgEAAoIBgQCp2iiLbJXDsaVg\n"
    "g4CZsrS22RozszHGnoE2ZLlTC3LziOpFiesbGzZKPCcz0dS61PHtfJlIUbQkrw7T\n"
    "m06l97x+xJpHzfHgS71JFCFN3K8JDnmJhSBEIMPLoULR9wX3OuhRsgjUWjMl3Uuy\n"
    "xqVNilZjbZMY6AofW2ITqvKNKuhYb1LJQy/0iueOf1Sq6KWnMxQioR1mqtNJw9Hy\n"
    "a5lDBAVFX72RPPEJVOzVx3VryLrZSaqZzGeZcRtnKKXfT1JOi4OfKzR6vwAbOLwD\n"
    "jVtvPdtjwqZGytbns7aNcBNxY8RMXVvxhbx5JiVeF554XUbF47+j7+7h1vRIHOBn\n"
    "fjwNYYCaQpwEKXazMmVcMdAMHD+YQZpndh41q17KR8fs7s3zXZL772zuPcOlaq2Z\n"
    "AeFRVpMsrRIALo9OmSPTxWuRaZvCeY82enI0qYauxDfav3vs6C6FFUjHdx3RyihC\n"
    "HcCiQ9WM26dIZLxv3+2u7R13UMHQP3Zkh1vSXoMFR+cdSrRo+TkCAwEAAQKCAYAY\n"
    "RHKhhPia1qFFulQf4Y//ReJ/+3zDn3bfoiF2U37ve6LZH5znKQqnLZP+S98EeJM+\n"
    "Npyh4AaIbTiFlD126f/U7tsKIksKHFglfkpJ2RtrBFXqB4q2ISZITDiDTjNcgN6b\n"
    "eX/YczC2mrkLiGUqwHaaSxgGqXR0yXYoUDbKY5SBuhoOZlqOKmBuFBQxPP8Z9erN\n"
    "Dc7pEcQRWHiBFc12bTchk82+WAIqLqeN3asRpMLJc8R7p+AvZKEhKoYUcz1Tuovu\n"
    "eu2Y9/L4NhNTeKKGekpN0s5URrLQ5A3ApQaRmATlEJBbbjKLDcBIGKYt1jKvyDkA\n"
    "ZVgcDzyO9UafAW3yp6p7E+lJj6eqlJ7TQ5c7yGeLzB3iaus3D8okBaGTWrYEPCuV\n"
    "SY1jPmXYnE9DIV7MGDJkj3PVe23GT0ihkBsuA1EsVl7aF8cehy/vg/V3M/loIx6m\n"
    "rxPoiAlqOSVqTkxrBZneRrCd3CVRD5qVefGi7AjvotetfgceqiBTRTAbw6MMCxkC\n"
    "gcEA3WhoiFTECONBWf20Iq3f1gGvrw5Hj3qQUuq8ZSK8q3dWTs3sSeVe0drYXAzg\n"
    "7SlOiIef12cMIy6Ib9nhgAXTvUuizlxr4rdxRqUiTyVkKRm91q7vMDI6fv25r5fK\n"
    "C8xu2oQxl8CkkqdGs3yo6vwC8od11SnoVM1kOTpZzc/9hCyPuZsZTFd4k7U8BcNe\n"
    "iMXkyLOEHrPDvKOWEXwxa0AJwfJtrYW6WgxuJDbnoThxa9gu3tjabPa9/rnV5KD2\n"
    "i5tNAoHBAMRjsQ+H8QS0HcJRmuIvzkZ2D4LVj16Y2YwtrncD3r0rX2FHGpyGFmYn\n"
    "heOLpLdHr+594UlBZdzk5Tn7S/3AJZPAKPloc4/al5FuJ0TQYWjLbtyuCm1TKSNy\n"
    "ebbfeUcMKdGG77FtmnWbh5xauNFWDXcwKo6/gHlnmlfan2yQB8I3T+H1lS8tjpJf\n"
    "wsg+9WcugE/xxDuDXRU7JAmf27Q7gTY/QP/G0ib4fEzCEqczq/oqW1kuC2B6NfwH\n"
    "UwtQB6onnQKBwQCTyjfMmNhqHlfnHAR8CZgaH/IHZf66dVOVJX8v+yn5QqVn4OjS\n"
    "wrqyVeSKPUZ+yE3VsMIvZGejrFICZ2uwqzMVbkF0ghi5sz13rI7kSc876CTiAs9C\n"
    "WqTVU8P4w9doXMO6NPdtlnfENMhq0tFmWWYWQfmTmm+s+5Tk5mA/k5BkA+LEQBV4\n"
    "8gJYhmdUaX7WyVHX7oxIejIz3vYzIbVTI+HfhlVTuKoVpap3nfarlSOQmzNeKV5T\n"
    "0bgtKhrui8tGkRkCgcAkAqen0mR2WVSPmgkNaninYOSNN/2W+e4CDypLdnE0PKy7\n"
    "mJ8fjlKzHpIlXCiy1rlCwOA7X3t/GpWRoSuY9s+tHPImcWmnOgzKxOj8bD1ASvUk\n"
    "D+GnlDUZ49a/mpCRX4CXg+eVoCRPZlpiaBw1flLvxOw4ypKTMFUTwOm0rWBO03eZ\n"
    "Vj+pq+/VlSuRLkIvTk6G2i0CQJ8j0nlULnTJwpN5z/VqMRm9vZiFNpzW/dmOAJBJ\n"
    "dPDvGtmlQe6PR3hwUd0CgcBIglag1Mr/efkh1Sjxq/hhtSnRxjM62iwp7cCaCd/t\n"
    "pTZDj6b8QKUfKjM/ljHzu2FrZ3pNl4StlAdTCuMF1WjzwpS8Hl9d+NBAPH+ip19m\n"
    "xe5e/qkt3llfeojM4zGlNrDt2gqrP39epkRQB2OjijoetxAlGbxoAArnPRWEcSRb\n"
    "su/057G3Dlr1WfTSLEE1AecNrPR980UJJHUaMX3lbYBUsjgHofhoVcHqbm1TPXPF\n"
    "RLfDOxGLdPdd34fLH966gzE=\n"
    "-----END PRIVATE KEY-----\n";

#define MAX_CHUNK 65536
#define MAX_ASYM_BLOCKS 4

static ua_key *g_key2048, *g_key3072;
static ua_sym_keys g_sym[3];
static uint8_t g_buf[MAX_CHUNK + 1024];

static const ua_policy_id policy_ids[3] = {
    UA_POLICY_BASIC256SHA256,
    UA_POLICY_AES128_SHA256_RSAOAEP,
    UA_POLICY_AES256_SHA256_RSAPSS,
};

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void init_once(void)
{
    static bool done;
    uint8_t cn[32], sn[32];
    ua_sym_keys unused;

    if (done)
        return;
    done = true;
    if (ua_key_from_bytes((const uint8_t *)key_2048_pem, strlen(key_2048_pem), &g_key2048) ||
        ua_key_from_bytes((const uint8_t *)key_3072_pem, strlen(key_3072_pem), &g_key3072))
        abort();
    for (int i = 0; i < 32; i++) {
        cn[i] = (uint8_t)i;
        sn[i] = (uint8_t)(0xa0 + i);
    }
    for (int i = 0; i < 3; i++)
        if (ua_channel_keys_derive(ua_policy_by_id(policy_ids[i]), cn, 32, sn, 32, &g_sym[i],
                                   &unused))
            abort();
}

/* Kind 0: a raw MSG chunk. */
static void sym_raw(const ua_security_policy *p, int pi, ua_security_mode mode, const uint8_t *d,
                    size_t n)
{
    size_t body_end = 0;

    if (n > MAX_CHUNK)
        return;
    memcpy(g_buf, d, n);
    if (ua_sym_chunk_open(p, mode, &g_sym[pi], g_buf, n, &body_end) == UA_STATUS_GOOD &&
        (body_end > n || body_end < UA_SYM_SEC_HDR_END + UA_SEQUENCE_HEADER_LEN))
        abort();
}

/* Kind 1: a raw OPN chunk, header and all. */
static void asym_raw(const ua_security_policy *p, ua_key *local, const uint8_t *d, size_t n)
{
    ua_asym_header hdr;
    size_t body_end = 0;

    if (n > MAX_CHUNK)
        return;
    memcpy(g_buf, d, n);
    if (ua_asym_header_parse(g_buf, n, &hdr) != UA_STATUS_GOOD)
        return;
    if (hdr.sender_cert && hdr.sender_cert_len) {
        ua_cert *cert = NULL;
        if (ua_cert_from_bytes(hdr.sender_cert, hdr.sender_cert_len, &cert) == UA_STATUS_GOOD)
            ua_cert_free(cert);
    }
    if (ua_asym_chunk_open(p, local, g_key2048, g_buf, n, hdr.end, &body_end) == UA_STATUS_GOOD &&
        (body_end > n || body_end < hdr.end + UA_SEQUENCE_HEADER_LEN))
        abort();
}

/* Kind 2: d is the plaintext after the 16-byte header; sign (and encrypt) it
 * correctly so that opening reaches the padding check. */
static void sym_authentic(const ua_security_policy *p, int pi, ua_security_mode mode,
                          const uint8_t *d, size_t n)
{
    size_t len, body_end = 0;

    if (n > MAX_CHUNK - 64)
        return;
    len = UA_SYM_SEC_HDR_END + n + p->sym_sig_len;
    if (mode == UA_SECURITY_MODE_SIGN_AND_ENCRYPT)
        len += (16 - (len - UA_SYM_SEC_HDR_END) % 16) % 16;
    memset(g_buf, 0, len);
    memcpy(g_buf, "MSGF", 4);
    put_u32(g_buf + 4, (uint32_t)len);
    memcpy(g_buf + UA_SYM_SEC_HDR_END, d, n);
    if (p->sym_sign(g_sym[pi].sig_key, g_buf, len - p->sym_sig_len, g_buf + len - p->sym_sig_len))
        abort();
    if (mode == UA_SECURITY_MODE_SIGN_AND_ENCRYPT &&
        p->sym_encrypt(g_sym[pi].enc_key, g_sym[pi].iv, g_buf + UA_SYM_SEC_HDR_END,
                       len - UA_SYM_SEC_HDR_END))
        abort();
    if (ua_sym_chunk_open(p, mode, &g_sym[pi], g_buf, len, &body_end) == UA_STATUS_GOOD &&
        (body_end > len - p->sym_sig_len || body_end < UA_SYM_SEC_HDR_END + 8))
        abort();
}

/* Kind 3: d is the plaintext of an OPN chunk (sequence header on), signed by
 * the 2048-bit key and encrypted for local here. */
static void asym_authentic(const ua_security_policy *p, ua_key *local, const uint8_t *d, size_t n)
{
    static uint8_t plain[MAX_ASYM_BLOCKS * 512];
    const size_t sec_end = 24, sig = ua_key_bytes(g_key2048), k = ua_key_bytes(local);
    const size_t pb = k - p->asym_enc_overhead;
    size_t n_block = (n + sig + pb - 1) / pb, plain_len, len, out_len = 0, body_end = 0;

    if (n_block == 0)
        n_block = 1;
    if (n_block > MAX_ASYM_BLOCKS)
        return;
    plain_len = n_block * pb;
    len = sec_end + n_block * k;
    memset(g_buf, 0, sec_end + plain_len);
    memcpy(g_buf, "OPNF", 4);
    put_u32(g_buf + 4, (uint32_t)len);
    memset(g_buf + 12, 0xff, 12); /* null URI, certificate and thumbprint */
    memcpy(g_buf + sec_end, d, n);
    if (p->asym_sign(g_key2048, g_buf, sec_end + plain_len - sig,
                     g_buf + sec_end + plain_len - sig))
        abort();
    memcpy(plain, g_buf + sec_end, plain_len);
    if (p->asym_encrypt(local, plain, plain_len, g_buf + sec_end, n_block * k, &out_len) ||
        out_len != n_block * k)
        abort();
    if (ua_asym_chunk_open(p, local, g_key2048, g_buf, len, sec_end, &body_end) == UA_STATUS_GOOD &&
        (body_end > sec_end + plain_len - sig || body_end < sec_end + 8))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ua_security_policy *p;
    ua_security_mode mode;
    ua_key *local;
    int pi;

    if (size < 1)
        return 0;
    init_once();
    pi = ((data[0] >> 2) & 3) % 3;
    p = ua_policy_by_id(policy_ids[pi]);
    mode = (data[0] & 0x10) ? UA_SECURITY_MODE_SIGN : UA_SECURITY_MODE_SIGN_AND_ENCRYPT;
    local = (data[0] & 0x20) ? g_key3072 : g_key2048;
    switch (data[0] & 3) {
    case 0:
        sym_raw(p, pi, mode, data + 1, size - 1);
        break;
    case 1:
        asym_raw(p, local, data + 1, size - 1);
        break;
    case 2:
        sym_authentic(p, pi, mode, data + 1, size - 1);
        break;
    default:
        asym_authentic(p, local, data + 1, size - 1);
        break;
    }
    return 0;
}

#ifdef FP_FUZZ_WRITE_SEEDS
/* Write one seed: selector byte and chunk. */
static void write_seed(const char *dir, const char *name, uint8_t sel, const uint8_t *p, size_t n)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(&sel, 1, 1, f) != 1 || fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
}

int main(int argc, char **argv);

int main(int argc, char **argv)
{
    static uint8_t buf[8192];
    char name[64];

    if (argc != 2)
        return 2;
    init_once();
    for (int pi = 0; pi < 3; pi++) {
        const ua_security_policy *p = ua_policy_by_id(policy_ids[pi]);
        for (int m = 0; m < 2; m++) {
            size_t len = 0, body = 40 + 17 * (size_t)pi;
            memset(buf, 0, sizeof buf);
            memcpy(buf, "MSGF", 4);
            put_u32(buf + 12, 1);
            put_u32(buf + 16, 2);
            put_u32(buf + 20, 3);
            memset(buf + 24, 'b', body);
            if (ua_sym_chunk_secure(p,
                                    m ? UA_SECURITY_MODE_SIGN : UA_SECURITY_MODE_SIGN_AND_ENCRYPT,
                                    &g_sym[pi], buf, sizeof buf, 24 + body, &len))
                abort();
            snprintf(name, sizeof name, "sym-%s-%s", p->name, m ? "sign" : "encrypt");
            write_seed(argv[1], name, (uint8_t)(0 | pi << 2 | m << 4), buf, len);
            snprintf(name, sizeof name, "symplain-%s-%s", p->name, m ? "sign" : "encrypt");
            /* Sequence header, body and a well-formed 16-byte padding field. */
            memset(buf, 0, 64);
            put_u32(buf, 7);
            put_u32(buf + 4, 8);
            memset(buf + 16, 15, 16);
            write_seed(argv[1], name, (uint8_t)(2 | pi << 2 | m << 4), buf, 32);
        }
        for (int big = 0; big < 2; big++) {
            ua_key *local = big ? g_key3072 : g_key2048;
            size_t off = 12, n = strlen(p->uri), len = 0;
            memset(buf, 0, sizeof buf);
            memcpy(buf, "OPNF", 4);
            put_u32(buf + off, (uint32_t)n);
            memcpy(buf + off + 4, p->uri, n);
            off += 4 + n;
            put_u32(buf + off, 0xffffffffu);
            put_u32(buf + off + 4, 0xffffffffu);
            off += 8;
            put_u32(buf + off, 1);
            put_u32(buf + off + 4, 1);
            memset(buf + off + 8, 'o', 100);
            if (ua_asym_chunk_secure(p, g_key2048, local, buf, sizeof buf, off, off + 108, &len))
                abort();
            snprintf(name, sizeof name, "asym-%s-%s", p->name, big ? "3072" : "2048");
            write_seed(argv[1], name, (uint8_t)(1 | pi << 2 | big << 5), buf, len);
            snprintf(name, sizeof name, "asymplain-%s-%s", p->name, big ? "3072" : "2048");
            memset(buf, 0, 64);
            put_u32(buf, 1);
            memset(buf + 8, 3, 4);
            write_seed(argv[1], name, (uint8_t)(3 | pi << 2 | big << 5), buf, 12);
        }
    }
    return 0;
}
#endif
