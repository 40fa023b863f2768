/*
 * fp_sha256.h - SHA-256 (FIPS 180-4) without a crypto library.
 *
 * The connector SDK hashes schema texts to find an already registered version; the
 * registry computes the same hash with OpenSSL, so this must give the standard digest.
 * Having our own keeps libcrypto from being initialised in processes that never do TLS.
 */
#ifndef FP_SHA256_H
#define FP_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct fp_sha256_ctx {
    uint32_t h[8];
    uint64_t n_byte;       /* message length so far */
    unsigned char blk[64]; /* the block being filled */
    size_t blk_len;
} fp_sha256_ctx;

/* Incremental use: init, any number of updates, final (which writes the 32-byte digest). */
void fp_sha256_init(fp_sha256_ctx *c);
void fp_sha256_update(fp_sha256_ctx *c, const void *p, size_t n);
void fp_sha256_final(fp_sha256_ctx *c, unsigned char out[32]);

/* The digest of the n bytes at p. */
void fp_sha256(const void *p, size_t n, unsigned char out[32]);

/* The digest of the n bytes at p as 64 lowercase hex digits and a NUL. */
void fp_sha256_hex(const void *p, size_t n, char out[65]);

#endif
