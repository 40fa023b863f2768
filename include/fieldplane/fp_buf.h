/*
 * fieldplane/fp_buf.h - a growable byte buffer with a hard maximum (part of the connector SDK).
 *
 * The buffer keeps a terminating NUL after its content so it can be used as a
 * C string. When an append would pass max_len, or allocation fails, the buffer
 * frees its content and every later append fails too: callers check once, at
 * the end.
 */
#ifndef FP_BUF_H
#define FP_BUF_H

#include <stddef.h>

#include <fieldplane/fp_status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fp_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max_len;
    fp_status err; /* FP_OK, or the first failure (FP_ERR_TOO_LARGE, FP_ERR_NOMEM) */
} fp_buf;

/* Start b empty, allocating nothing yet; its content may grow to max_len bytes. */
void fp_buf_init(fp_buf *b, size_t max_len);
/* Free the content; b is empty and keeps max_len and err (fp_buf_reset clears err). */
void fp_buf_clear(fp_buf *b);
void fp_buf_reset(fp_buf *b); /* length to zero, keeps the memory and max */
/* Append len bytes at p, the string z, or printf-formatted text. Each returns FP_OK, or
 * FP_ERR_TOO_LARGE / FP_ERR_NOMEM: then the content is freed and b->err keeps the status,
 * which every later append returns as well. */
fp_status fp_buf_append(fp_buf *b, const void *p, size_t len);
fp_status fp_buf_append_str(fp_buf *b, const char *z);
fp_status fp_buf_printf(fp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append the string z with every byte outside RFC 3986's unreserved set (letters, digits,
 * '-', '.', '_', '~') percent-encoded, so that any name is one URL path segment or one query
 * value. Returns as fp_buf_append. */
fp_status fp_buf_append_pct(fp_buf *b, const char *z);
/* Hand the content to the caller (free with fp_free); the buffer is left empty. */
char *fp_buf_take(fp_buf *b, size_t *len_out);

#ifdef __cplusplus
}
#endif

#endif
