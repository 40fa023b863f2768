/*
 * fp_buf.c - bounded growable buffer; frees itself on the first failure.
 */
#include "fp_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fp_alloc.h"

void fp_buf_init(fp_buf *b, size_t max_len)
{
    memset(b, 0, sizeof *b);
    b->max_len = max_len;
}

void fp_buf_clear(fp_buf *b)
{
    fp_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void fp_buf_reset(fp_buf *b)
{
    b->len = 0;
    b->err = FP_OK;
    if (b->data)
        b->data[0] = '\0';
}

/* Fail the buffer: free what it held and remember why. */
static fp_status fail(fp_buf *b, fp_status st)
{
    fp_buf_clear(b);
    b->err = st;
    return st;
}

/* Make room for len more bytes plus the NUL. */
static fp_status grow(fp_buf *b, size_t len)
{
    size_t need, cap;
    char *p;

    if (b->err)
        return b->err;
    if (len > b->max_len || b->len > b->max_len - len)
        return fail(b, FP_ERR_TOO_LARGE);
    need = b->len + len + 1;
    if (need <= b->cap)
        return FP_OK;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    p = fp_realloc(b->data, cap);
    if (!p)
        return fail(b, FP_ERR_NOMEM);
    b->data = p;
    b->cap = cap;
    return FP_OK;
}

fp_status fp_buf_append(fp_buf *b, const void *p, size_t len)
{
    fp_status st = grow(b, len);
    if (st)
        return st;
    if (len)
        memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return FP_OK;
}

fp_status fp_buf_append_str(fp_buf *b, const char *z)
{
    return fp_buf_append(b, z, strlen(z));
}

fp_status fp_buf_printf(fp_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    fp_status st;

    if (b->err)
        return b->err;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b, FP_ERR_INVALID);
    st = grow(b, (size_t)n);
    if (st)
        return st;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return FP_OK;
}

char *fp_buf_take(fp_buf *b, size_t *len_out)
{
    char *p = b->data;
    if (len_out)
        *len_out = b->len;
    if (!p && !b->err) {
        p = fp_malloc(1);
        if (p)
            p[0] = '\0';
    }
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

fp_status fp_buf_append_pct(fp_buf *b, const char *z)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *z && !b->err; z++) {
        unsigned char c = (unsigned char)*z;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            fp_buf_append(b, z, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            fp_buf_append(b, e, 3);
        }
    }
    return b->err;
}
