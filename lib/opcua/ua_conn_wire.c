/*
 * ua_conn_wire.c - little-endian read and write helpers for the transport headers.
 *
 * The UACP and secure conversation headers, and the OpenSecureChannel messages, are encoded
 * by hand here so the connection layer stands on its own. Reads are over untrusted bytes:
 * every read checks the remaining length first and an overrun sets a sticky error flag, so a
 * parser can read a whole structure and check once at the end. Writes grow the buffer up to
 * a hard maximum; the first failure also sticks.
 */
#include <string.h>
#include <time.h>

#include "fp_alloc.h"
#include "ua_conn.h"

void ua_wbuf_init(ua_wbuf *w, size_t max)
{
    memset(w, 0, sizeof(*w));
    w->max = max;
}

void ua_wbuf_clear(ua_wbuf *w)
{
    fp_free(w->data);
    w->data = NULL;
    w->len = w->cap = 0;
    w->err = UAC_GOOD;
}

static bool wbuf_reserve(ua_wbuf *w, size_t n)
{
    if (w->err)
        return false;
    if (n > w->max || w->len > w->max - n) {
        w->err = UAC_BAD_ENCODING_LIMITS_EXCEEDED;
        return false;
    }
    if (w->len + n <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n)
        cap *= 2;
    uint8_t *p = fp_realloc(w->data, cap);
    if (!p) {
        w->err = UAC_BAD_OUT_OF_MEMORY;
        return false;
    }
    w->data = p;
    w->cap = cap;
    return true;
}

void ua_wbuf_bytes(ua_wbuf *w, const void *p, size_t n)
{
    if (n == 0 || !wbuf_reserve(w, n))
        return;
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

uint8_t *ua_wbuf_extend(ua_wbuf *w, size_t n)
{
    if (!wbuf_reserve(w, n))
        return NULL;
    uint8_t *p = w->data + w->len;
    w->len += n;
    return p;
}

void ua_wbuf_u8(ua_wbuf *w, uint8_t v)
{
    ua_wbuf_bytes(w, &v, 1);
}

void ua_wbuf_u16(ua_wbuf *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    ua_wbuf_bytes(w, b, 2);
}

void ua_wbuf_u32(ua_wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    ua_wbuf_bytes(w, b, 4);
}

void ua_wbuf_i64(ua_wbuf *w, int64_t v)
{
    uint64_t u = (uint64_t)v;
    ua_wbuf_u32(w, (uint32_t)u);
    ua_wbuf_u32(w, (uint32_t)(u >> 32));
}

void ua_wbuf_string(ua_wbuf *w, const void *p, size_t n)
{
    if (!p) {
        ua_wbuf_u32(w, 0xffffffffu);
        return;
    }
    if (n > INT32_MAX) {
        if (!w->err)
            w->err = UAC_BAD_ENCODING_ERROR;
        return;
    }
    ua_wbuf_u32(w, (uint32_t)n);
    ua_wbuf_bytes(w, p, n);
}

void ua_wbuf_nodeid_num(ua_wbuf *w, uint16_t ns, uint32_t id)
{
    if (ns == 0 && id <= 0xff) {
        ua_wbuf_u8(w, 0x00);
        ua_wbuf_u8(w, (uint8_t)id);
    } else if (ns <= 0xff && id <= 0xffff) {
        ua_wbuf_u8(w, 0x01);
        ua_wbuf_u8(w, (uint8_t)ns);
        ua_wbuf_u16(w, (uint16_t)id);
    } else {
        ua_wbuf_u8(w, 0x02);
        ua_wbuf_u16(w, ns);
        ua_wbuf_u32(w, id);
    }
}

void ua_wbuf_put_u32_at(ua_wbuf *w, size_t off, uint32_t v)
{
    if (w->err || off + 4 > w->len)
        return;
    w->data[off] = (uint8_t)v;
    w->data[off + 1] = (uint8_t)(v >> 8);
    w->data[off + 2] = (uint8_t)(v >> 16);
    w->data[off + 3] = (uint8_t)(v >> 24);
}

/* --------------------------------------------------------------------------- reading */

static const uint8_t *rbuf_take(ua_rbuf *r, size_t n)
{
    if (r->err || (size_t)(r->end - r->p) < n) {
        r->err = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

uint8_t ua_rbuf_u8(ua_rbuf *r)
{
    const uint8_t *p = rbuf_take(r, 1);
    return p ? p[0] : 0;
}

uint16_t ua_rbuf_u16(ua_rbuf *r)
{
    const uint8_t *p = rbuf_take(r, 2);
    return p ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}

uint32_t ua_rbuf_u32(ua_rbuf *r)
{
    const uint8_t *p = rbuf_take(r, 4);
    if (!p)
        return 0;
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

int64_t ua_rbuf_i64(ua_rbuf *r)
{
    uint64_t lo = ua_rbuf_u32(r);
    uint64_t hi = ua_rbuf_u32(r);
    return (int64_t)(lo | (hi << 32));
}

const uint8_t *ua_rbuf_string(ua_rbuf *r, size_t *len)
{
    int32_t n = (int32_t)ua_rbuf_u32(r);
    *len = 0;
    if (r->err || n < 0)
        return NULL;
    const uint8_t *p = rbuf_take(r, (size_t)n);
    if (p)
        *len = (size_t)n;
    return p;
}

void ua_rbuf_nodeid(ua_rbuf *r, uint16_t *ns, uint32_t *id)
{
    uint8_t enc = ua_rbuf_u8(r);
    size_t n;
    *ns = 0;
    *id = UINT32_MAX;
    switch (enc & 0x3f) {
    case 0x00:
        *id = ua_rbuf_u8(r);
        break;
    case 0x01:
        *ns = ua_rbuf_u8(r);
        *id = ua_rbuf_u16(r);
        break;
    case 0x02:
        *ns = ua_rbuf_u16(r);
        *id = ua_rbuf_u32(r);
        break;
    case 0x03: /* String */
    case 0x05: /* ByteString */
        *ns = ua_rbuf_u16(r);
        ua_rbuf_string(r, &n);
        break;
    case 0x04: /* Guid */
        *ns = ua_rbuf_u16(r);
        rbuf_take(r, 16);
        break;
    default:
        r->err = true;
        return;
    }
    if (enc & 0x80)
        ua_rbuf_string(r, &n); /* NamespaceUri of an ExpandedNodeId */
    if (enc & 0x40)
        ua_rbuf_u32(r); /* ServerIndex */
}

void ua_rbuf_skip_diagnostic_info(ua_rbuf *r, int depth)
{
    size_t n;
    if (depth > 16) {
        r->err = true;
        return;
    }
    uint8_t mask = ua_rbuf_u8(r);
    if (mask & 0x01)
        ua_rbuf_u32(r);
    if (mask & 0x02)
        ua_rbuf_u32(r);
    if (mask & 0x08)
        ua_rbuf_u32(r);
    if (mask & 0x04)
        ua_rbuf_u32(r);
    if (mask & 0x10)
        ua_rbuf_string(r, &n);
    if (mask & 0x20)
        ua_rbuf_u32(r);
    if (mask & 0x40)
        ua_rbuf_skip_diagnostic_info(r, depth + 1);
}

void ua_rbuf_skip_string_array(ua_rbuf *r)
{
    size_t n;
    int32_t count = (int32_t)ua_rbuf_u32(r);
    for (int32_t i = 0; i < count && !r->err; i++)
        ua_rbuf_string(r, &n);
}

void ua_rbuf_skip_extension_object(ua_rbuf *r)
{
    uint16_t ns;
    uint32_t id;
    size_t n;
    ua_rbuf_nodeid(r, &ns, &id);
    uint8_t enc = ua_rbuf_u8(r);
    if (enc == 1 || enc == 2)
        ua_rbuf_string(r, &n);
    else if (enc != 0)
        r->err = true;
}

int64_t ua_conn_datetime_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 10000000 + ts.tv_nsec / 100 + 116444736000000000LL;
}
